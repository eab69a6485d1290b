#include "cluster/gossip_message.h"

#include "absl/status/status.h"
#include "fmt/format.h"

#include "common/status_macros.h"

namespace shale::cluster {
namespace {

// PERSISTED (on the wire): bit 0 of a key-value update's flags byte.
constexpr uint8_t kDeletedFlag = 0x01;

void PutVarint(std::string& out, uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

void PutString(std::string& out, std::string_view text) {
  PutVarint(out, text.size());
  out.append(text);
}

bool HasDigest(GossipMessageType type) {
  return type == GossipMessageType::kSyn || type == GossipMessageType::kSynAck;
}

bool HasDelta(GossipMessageType type) {
  return type == GossipMessageType::kSynAck || type == GossipMessageType::kAck;
}

// Reads fields front to back; every failure names the offset where it happened.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}

  size_t remaining() const { return data_.size() - offset_; }
  size_t offset() const { return offset_; }

  absl::Status Error(std::string_view what) const {
    return absl::InvalidArgumentError(
        fmt::format("malformed gossip message at byte {}: {}", offset_, what));
  }

  // Consumes `bytes`, which must come next.
  absl::Status Expect(std::string_view bytes, std::string_view what) {
    if (data_.substr(offset_, bytes.size()) != bytes) return Error(what);
    offset_ += bytes.size();
    return absl::OkStatus();
  }

  absl::StatusOr<uint8_t> Byte(std::string_view what) {
    if (remaining() < 1) return Error(fmt::format("truncated {}", what));
    return static_cast<uint8_t>(data_[offset_++]);
  }

  absl::StatusOr<uint64_t> Varint(std::string_view what) {
    uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (remaining() < 1) return Error(fmt::format("truncated {}", what));
      const auto byte = static_cast<uint8_t>(data_[offset_++]);
      if (shift == 63 && byte > 1) return Error(fmt::format("{} overflows 64 bits", what));
      // One encoding per value: a last byte of 0 after the first would be a padded varint.
      if (byte == 0 && shift > 0) return Error(fmt::format("{} is not minimally encoded", what));
      value |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) return value;
    }
    return Error(fmt::format("{} overflows 64 bits", what));
  }

  absl::StatusOr<std::string> String(std::string_view what) {
    ASSIGN_OR_RETURN(uint64_t length, Varint(what));
    if (length > remaining()) {
      return Error(
          fmt::format("{} of {} bytes exceeds the {} bytes left", what, length, remaining()));
    }
    std::string text(data_.substr(offset_, length));
    offset_ += length;
    return text;
  }

  absl::StatusOr<std::string> NodeId(std::string_view what) {
    ASSIGN_OR_RETURN(std::string node_id, String(what));
    if (node_id.empty()) return Error(fmt::format("empty {}", what));
    return node_id;
  }

  // A count of entries that each take at least `min_entry_bytes`: a count the remaining bytes
  // cannot hold is rejected before anything is allocated for it.
  absl::StatusOr<size_t> Count(std::string_view what, size_t min_entry_bytes) {
    ASSIGN_OR_RETURN(uint64_t count, Varint(what));
    if (count > remaining() / min_entry_bytes) {
      return Error(fmt::format("{} {} cannot fit in the {} bytes left", what, count, remaining()));
    }
    return static_cast<size_t>(count);
  }

 private:
  std::string_view data_;
  size_t offset_ = 0;
};

// The smallest encodings: a digest entry is a 1-byte id and three 1-byte varints; a node delta
// adds an update count; an update is two empty strings, a version and flags.
constexpr size_t kMinDigestEntryBytes = 2 + 3;
constexpr size_t kMinNodeDeltaBytes = 2 + 4;
constexpr size_t kMinUpdateBytes = 1 + 1 + 1 + 1;

absl::StatusOr<Digest> ReadDigest(Reader& reader) {
  Digest digest;
  ASSIGN_OR_RETURN(digest.range_begin, reader.String("digest range begin"));
  ASSIGN_OR_RETURN(digest.range_end, reader.String("digest range end"));
  ASSIGN_OR_RETURN(size_t count, reader.Count("digest entry count", kMinDigestEntryBytes));
  digest.entries.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    DigestEntry entry;
    ASSIGN_OR_RETURN(entry.node_id, reader.NodeId("digest node id"));
    ASSIGN_OR_RETURN(entry.generation, reader.Varint("digest generation"));
    ASSIGN_OR_RETURN(entry.heartbeat, reader.Varint("digest heartbeat"));
    ASSIGN_OR_RETURN(entry.max_version, reader.Varint("digest max version"));
    digest.entries.push_back(std::move(entry));
  }
  return digest;
}

absl::StatusOr<Delta> ReadDelta(Reader& reader) {
  Delta delta;
  ASSIGN_OR_RETURN(size_t num_nodes, reader.Count("delta node count", kMinNodeDeltaBytes));
  delta.nodes.reserve(num_nodes);
  for (size_t i = 0; i < num_nodes; ++i) {
    NodeDelta node;
    ASSIGN_OR_RETURN(node.node_id, reader.NodeId("delta node id"));
    ASSIGN_OR_RETURN(node.generation, reader.Varint("delta generation"));
    ASSIGN_OR_RETURN(node.heartbeat, reader.Varint("delta heartbeat"));
    ASSIGN_OR_RETURN(node.from_version, reader.Varint("delta from version"));
    ASSIGN_OR_RETURN(size_t num_updates, reader.Count("delta update count", kMinUpdateBytes));
    node.updates.reserve(num_updates);
    for (size_t j = 0; j < num_updates; ++j) {
      KeyValueUpdate update;
      ASSIGN_OR_RETURN(update.key, reader.String("key"));
      ASSIGN_OR_RETURN(update.value, reader.String("value"));
      ASSIGN_OR_RETURN(update.version, reader.Varint("version"));
      ASSIGN_OR_RETURN(uint8_t flags, reader.Byte("flags"));
      if ((flags & ~kDeletedFlag) != 0) return reader.Error(fmt::format("unknown flags {}", flags));
      update.deleted = (flags & kDeletedFlag) != 0;
      node.updates.push_back(std::move(update));
    }
    delta.nodes.push_back(std::move(node));
  }
  return delta;
}

}  // namespace

bool Digest::Covers(std::string_view node_id) const {
  return (range_begin.empty() || node_id >= range_begin) &&
         (range_end.empty() || node_id < range_end);
}

size_t VarintSize(uint64_t value) {
  size_t size = 1;
  while (value >= 0x80) {
    value >>= 7;
    ++size;
  }
  return size;
}

size_t EncodedStringSize(std::string_view text) { return VarintSize(text.size()) + text.size(); }

size_t EncodedHeaderSize(std::string_view cluster_id, std::string_view sender_node_id,
                         uint64_t sender_generation) {
  return sizeof(kGossipMagic) + 2 + EncodedStringSize(cluster_id) +
         EncodedStringSize(sender_node_id) + VarintSize(sender_generation);
}

size_t EncodedDigestOverhead(std::string_view range_begin, std::string_view range_end) {
  return EncodedStringSize(range_begin) + EncodedStringSize(range_end) + kCountSizeBudget;
}

size_t EncodedSize(const DigestEntry& entry) {
  return EncodedStringSize(entry.node_id) + VarintSize(entry.generation) +
         VarintSize(entry.heartbeat) + VarintSize(entry.max_version);
}

size_t EncodedSize(const Digest& digest) {
  size_t size = EncodedDigestOverhead(digest.range_begin, digest.range_end);
  for (const DigestEntry& entry : digest.entries) size += EncodedSize(entry);
  return size;
}

size_t EncodedNodeDeltaHeaderSize(const NodeDelta& node_delta) {
  return EncodedStringSize(node_delta.node_id) + VarintSize(node_delta.generation) +
         VarintSize(node_delta.heartbeat) + VarintSize(node_delta.from_version) + kCountSizeBudget;
}

size_t EncodedSize(const KeyValueUpdate& update) {
  return EncodedStringSize(update.key) + EncodedStringSize(update.value) +
         VarintSize(update.version) + 1;
}

std::string EncodeGossipMessage(const GossipMessage& message) {
  std::string out;
  out.append(kGossipMagic, sizeof(kGossipMagic));
  out.push_back(static_cast<char>(kGossipProtocolVersion));
  out.push_back(static_cast<char>(message.type));
  PutString(out, message.cluster_id);
  PutString(out, message.sender_node_id);
  PutVarint(out, message.sender_generation);
  if (HasDigest(message.type)) {
    PutString(out, message.digest.range_begin);
    PutString(out, message.digest.range_end);
    PutVarint(out, message.digest.entries.size());
    for (const DigestEntry& entry : message.digest.entries) {
      PutString(out, entry.node_id);
      PutVarint(out, entry.generation);
      PutVarint(out, entry.heartbeat);
      PutVarint(out, entry.max_version);
    }
  }
  if (HasDelta(message.type)) {
    PutVarint(out, message.delta.nodes.size());
    for (const NodeDelta& node : message.delta.nodes) {
      PutString(out, node.node_id);
      PutVarint(out, node.generation);
      PutVarint(out, node.heartbeat);
      PutVarint(out, node.from_version);
      PutVarint(out, node.updates.size());
      for (const KeyValueUpdate& update : node.updates) {
        PutString(out, update.key);
        PutString(out, update.value);
        PutVarint(out, update.version);
        out.push_back(static_cast<char>(update.deleted ? kDeletedFlag : 0));
      }
    }
  }
  return out;
}

absl::StatusOr<GossipMessage> DecodeGossipMessage(std::string_view datagram) {
  Reader reader(datagram);
  RETURN_IF_ERROR(reader.Expect(std::string_view(kGossipMagic, sizeof(kGossipMagic)),
                                "not a gossip datagram (bad magic)"));
  ASSIGN_OR_RETURN(uint8_t version, reader.Byte("protocol version"));
  if (version != kGossipProtocolVersion) {
    return reader.Error(fmt::format("unsupported protocol version {} (expected {})", version,
                                    kGossipProtocolVersion));
  }
  ASSIGN_OR_RETURN(uint8_t type, reader.Byte("message type"));
  if (type < static_cast<uint8_t>(GossipMessageType::kSyn) ||
      type > static_cast<uint8_t>(GossipMessageType::kAck)) {
    return reader.Error(fmt::format("unknown message type {}", type));
  }
  GossipMessage message;
  message.type = static_cast<GossipMessageType>(type);
  ASSIGN_OR_RETURN(message.cluster_id, reader.String("cluster id"));
  ASSIGN_OR_RETURN(message.sender_node_id, reader.NodeId("sender node id"));
  ASSIGN_OR_RETURN(message.sender_generation, reader.Varint("sender generation"));
  if (HasDigest(message.type)) {
    ASSIGN_OR_RETURN(message.digest, ReadDigest(reader));
  }
  if (HasDelta(message.type)) {
    ASSIGN_OR_RETURN(message.delta, ReadDelta(reader));
  }
  if (reader.remaining() != 0) {
    return reader.Error(fmt::format("{} trailing bytes", reader.remaining()));
  }
  return message;
}

}  // namespace shale::cluster
