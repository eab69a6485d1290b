// The gossip wire format (docs/format/gossip.md): the three messages of a Scuttlebutt exchange
// and their versioned binary encoding. A round between node A and node B is
//   A -> B  Syn    (A's digest: per node, the generation, heartbeat and max version A knows)
//   B -> A  SynAck (B's digest, and the delta of what A's digest shows A lacks)
//   A -> B  Ack    (the delta of what B's digest shows B lacks)
// Every message carries the cluster id, so nodes of other clusters are told apart and dropped.
//
// Decoding is total: any byte string yields a message or InvalidArgument, never a crash, and no
// allocation larger than the datagram itself.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace shale::cluster {

// The first bytes of every datagram, then the protocol version.
inline constexpr char kGossipMagic[2] = {'S', 'G'};
inline constexpr uint8_t kGossipProtocolVersion = 1;
// Payload budget of one datagram: below the 1500-byte Ethernet MTU minus IP and UDP headers, so
// a message never fragments.
inline constexpr size_t kDefaultMaxDatagramBytes = 1400;
// The largest datagram a receiver accepts (the UDP maximum over IPv4).
inline constexpr size_t kMaxReceivedDatagramBytes = 65507;

// PERSISTED (on the wire): never renumber.
enum class GossipMessageType : uint8_t { kSyn = 1, kSynAck = 2, kAck = 3 };

// What the sender knows of one node.
struct DigestEntry {
  std::string node_id;
  uint64_t generation = 0;
  uint64_t heartbeat = 0;
  uint64_t max_version = 0;

  bool operator==(const DigestEntry& other) const = default;
};

// The sender's view of every node whose id is in [range_begin, range_end). An empty bound is
// unbounded, so a digest with both bounds empty covers every node. A node inside the range but
// absent from `entries` is one the sender does not know. Digests of large clusters that do not
// fit a datagram cover a slice of the id space, a different one each round.
struct Digest {
  std::string range_begin;  // inclusive; "" = from the first node id
  std::string range_end;    // exclusive; "" = to the last node id
  std::vector<DigestEntry> entries;

  bool Covers(std::string_view node_id) const;
  bool operator==(const Digest& other) const = default;
};

// One key of a node's state at `version`. A deleted key is a tombstone (empty value) kept so the
// deletion propagates.
struct KeyValueUpdate {
  std::string key;
  std::string value;
  uint64_t version = 0;
  bool deleted = false;

  bool operator==(const KeyValueUpdate& other) const = default;
};

// What the receiver lacks of one node: its current heartbeat and, in ascending version order,
// the keys whose version is above `from_version` (the receiver's max version for the node when
// the delta was computed, 0 when it knew nothing or an older generation). `updates` may stop
// early when the datagram is full; the rest follows in later rounds.
struct NodeDelta {
  std::string node_id;
  uint64_t generation = 0;
  uint64_t heartbeat = 0;
  uint64_t from_version = 0;
  std::vector<KeyValueUpdate> updates;

  bool operator==(const NodeDelta& other) const = default;
};

struct Delta {
  std::vector<NodeDelta> nodes;

  bool operator==(const Delta& other) const = default;
};

struct GossipMessage {
  GossipMessageType type = GossipMessageType::kSyn;
  std::string cluster_id;
  std::string sender_node_id;
  uint64_t sender_generation = 0;
  Digest digest;  // kSyn and kSynAck only
  Delta delta;    // kSynAck and kAck only

  bool operator==(const GossipMessage& other) const = default;
};

// The datagram for `message`. Fields the message type does not carry are not encoded.
std::string EncodeGossipMessage(const GossipMessage& message);

// Parses a datagram. InvalidArgument (naming the byte offset) on a wrong magic, an unknown
// version or type, a truncated or oversized field, an empty node id, unknown flag bits or
// trailing bytes.
absl::StatusOr<GossipMessage> DecodeGossipMessage(std::string_view datagram);

// Encoded sizes, so callers can fill a datagram without encoding twice. Counts of entries are
// budgeted at kCountSizeBudget bytes each (an upper bound for any count a datagram can hold).
inline constexpr size_t kCountSizeBudget = 3;
size_t VarintSize(uint64_t value);
size_t EncodedStringSize(std::string_view text);
// Magic, version, type, cluster id and sender.
size_t EncodedHeaderSize(std::string_view cluster_id, std::string_view sender_node_id,
                         uint64_t sender_generation);
// The digest's bounds and count, without entries.
size_t EncodedDigestOverhead(std::string_view range_begin, std::string_view range_end);
size_t EncodedSize(const DigestEntry& entry);
size_t EncodedSize(const Digest& digest);
// A node delta's fields and update count, without its updates.
size_t EncodedNodeDeltaHeaderSize(const NodeDelta& node_delta);
size_t EncodedSize(const KeyValueUpdate& update);

}  // namespace shale::cluster
