// shale_gen_logs: a deterministic generator of HDFS-like log documents in NDJSON, for ingest and
// search benchmarks. The output format is documented in bench/README.md.
//
// The message templates follow the HDFS templates of Loghub (HDFS_2k.log_templates.csv and the
// line shapes of HDFS_2k.log); their placeholders are filled with generated block ids, addresses,
// ports and sizes. Same flags and seed => byte-identical output.
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include <unistd.h>

#include "CLI/CLI.hpp"

namespace shale::bench {
namespace {

// xoshiro256** seeded with splitmix64: fast, good quality, and identical on every platform.
class Random {
 public:
  explicit Random(uint64_t seed) {
    for (uint64_t& word : state_) {
      seed += 0x9E3779B97F4A7C15ULL;
      uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
      word = z ^ (z >> 31);
    }
  }

  uint64_t Next() {
    const uint64_t result = RotateLeft(state_[1] * 5, 7) * 9;
    const uint64_t shifted = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= shifted;
    state_[3] = RotateLeft(state_[3], 45);
    return result;
  }

  // Uniform in [0, bound) (Lemire's multiply-shift; the tiny bias is irrelevant here).
  uint64_t Below(uint64_t bound) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(Next()) * bound) >> 64);
  }

  // Uniform in [0, 1).
  double Unit() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

 private:
  static uint64_t RotateLeft(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::array<uint64_t, 4> state_;
};

enum class Severity { kInfo, kWarn, kError, kDebug };

constexpr std::string_view SeverityName(Severity severity) {
  switch (severity) {
    case Severity::kInfo:
      return "INFO";
    case Severity::kWarn:
      return "WARN";
    case Severity::kError:
      return "ERROR";
    case Severity::kDebug:
      return "DEBUG";
  }
  return "INFO";
}

// One message template. Placeholders: {B} the document's block id (blk_<signed int64>), {IP} an
// address, {DN} / {DN2} / {DN3} datanode addresses `ip:50010`, {PORT} an ephemeral port,
// {SIZE} a block size, {N} a PacketResponder index, {TASK} a map task path, {SUB} a subdir.
struct Template {
  Severity severity;  // INFO templates also serve DEBUG documents
  int weight;         // relative frequency among the templates of the same severity
  std::string_view service;
  std::string_view component;  // the `attributes.class` value
  std::string_view pattern;
};

constexpr std::string_view kDataNode = "datanode";
constexpr std::string_view kNameNode = "namenode";
constexpr std::string_view kDfsClient = "dfsclient";
constexpr std::string_view kBalancer = "balancer";

// Weights of INFO templates follow their frequency in HDFS_2k.log.
constexpr Template kTemplates[] = {
    // namenode
    {Severity::kInfo, 330, kNameNode, "dfs.FSNamesystem",
     "BLOCK* NameSystem.addStoredBlock: blockMap updated: {DN} is added to {B} size {SIZE}"},
    {Severity::kInfo, 60, kNameNode, "dfs.FSNamesystem",
     "BLOCK* NameSystem.allocateBlock: /user/root/rand/_temporary/{TASK}. {B}"},
    {Severity::kInfo, 120, kNameNode, "dfs.FSNamesystem",
     "BLOCK* NameSystem.delete: {B} is added to invalidSet of {DN}"},
    {Severity::kInfo, 10, kNameNode, "dfs.FSNamesystem", "BLOCK* ask {DN} to delete  {B}"},
    {Severity::kInfo, 3, kNameNode, "dfs.FSNamesystem",
     "BLOCK* ask {DN} to replicate {B} to datanode(s) {DN2}"},
    {Severity::kInfo, 2, kNameNode, "dfs.FSNamesystem",
     "BLOCK* Removing block {B} from neededReplications as it does not belong to any file."},
    {Severity::kInfo, 2, kNameNode, "dfs.FSNamesystem",
     "BLOCK* NameSystem.addStoredBlock: Redundant addStoredBlock request received for {B} on "
     "{DN} size {SIZE}"},
    {Severity::kWarn, 6, kNameNode, "dfs.FSNamesystem",
     "BLOCK* NameSystem.addStoredBlock: addStoredBlock request received for {B} on {DN} size "
     "{SIZE} But it does not belong to any file."},
    {Severity::kWarn, 4, kNameNode, "dfs.PendingReplicationMonitor",
     "PendingReplicationMonitor timed out block {B}"},
    // datanode
    {Severity::kInfo, 300, kDataNode, "dfs.DataNode$PacketResponder",
     "PacketResponder {N} for block {B} terminating"},
    {Severity::kInfo, 300, kDataNode, "dfs.DataNode$PacketResponder",
     "Received block {B} of size {SIZE} from /{IP}"},
    {Severity::kInfo, 290, kDataNode, "dfs.DataNode$DataXceiver",
     "Receiving block {B} src: /{IP}:{PORT} dest: /{IP}:50010"},
    {Severity::kInfo, 10, kDataNode, "dfs.DataNode$DataXceiver",
     "Received block {B} src: /{IP}:{PORT} dest: /{IP}:50010 of size {SIZE}"},
    {Severity::kInfo, 40, kDataNode, "dfs.DataNode$DataXceiver", "{DN} Served block {B} to /{IP}"},
    {Severity::kInfo, 130, kDataNode, "dfs.FSDataset",
     "Deleting block {B} file /mnt/hadoop/dfs/data/current/subdir{SUB}/{B}"},
    {Severity::kInfo, 10, kDataNode, "dfs.DataBlockScanner", "Verification succeeded for {B}"},
    {Severity::kInfo, 2, kDataNode, "dfs.DataNode",
     "{DN} Starting thread to transfer block {B} to {DN2}"},
    {Severity::kInfo, 2, kDataNode, "dfs.DataNode", "{DN}:Transmitted block {B} to /{DN2}"},
    {Severity::kInfo, 1, kDataNode, "dfs.DataNode$DataXceiver",
     "Receiving empty packet for block {B}"},
    {Severity::kInfo, 1, kDataNode, "dfs.DataNode$BlockReceiver",
     "Changing block file offset of block {B} from {SIZE} to {SIZE} meta file offset to {N}"},
    {Severity::kInfo, 1, kDataNode, "dfs.FSDataset", "Reopen Block {B}"},
    {Severity::kInfo, 2, kDataNode, "dfs.FSDataset", "Adding an already existing block {B}"},
    {Severity::kWarn, 80, kDataNode, "dfs.DataNode$DataXceiver",
     "{DN}:Got exception while serving {B} to /{IP}:"},
    {Severity::kWarn, 5, kDataNode, "dfs.DataNode",
     "{DN}:Failed to transfer {B} to {DN2} got java.io.IOException: Connection reset by peer"},
    {Severity::kWarn, 5, kDataNode, "dfs.FSDataset",
     "Unexpected error trying to delete block {B}. BlockInfo not found in volumeMap."},
    {Severity::kWarn, 3, kDataNode, "dfs.DataNode$PacketResponder",
     "PacketResponder {N} for block {B} Interrupted."},
    {Severity::kError, 30, kDataNode, "dfs.DataNode$DataXceiver",
     "{DN}:DataXceiver: java.io.IOException: Block {B} is valid, and cannot be written to."},
    {Severity::kError, 20, kDataNode, "dfs.DataNode$DataXceiver",
     "writeBlock {B} received exception java.io.IOException: Connection reset by peer"},
    {Severity::kError, 15, kDataNode, "dfs.DataNode$PacketResponder",
     "PacketResponder {B} {N} Exception java.io.InterruptedIOException: Interruped while "
     "waiting for IO on channel java.nio.channels.SocketChannel"},
    {Severity::kError, 10, kDataNode, "dfs.DataNode$BlockReceiver",
     "Exception in receiveBlock for block {B} java.io.EOFException"},
    {Severity::kError, 10, kDataNode, "dfs.DataNode$DataXceiver",
     "{DN}:Exception writing block {B} to mirror {DN2}"},
    // dfsclient
    {Severity::kInfo, 25, kDfsClient, "dfs.DFSClient", "Abandoning block {B}"},
    {Severity::kWarn, 8, kDfsClient, "dfs.DFSClient",
     "Could not obtain block {B} from any node: java.io.IOException: No live nodes contain "
     "current block"},
    {Severity::kError, 12, kDfsClient, "dfs.DFSClient",
     "Exception in createBlockOutputStream java.io.IOException: Bad connect ack with "
     "firstBadLink {DN}"},
    // balancer
    {Severity::kInfo, 8, kBalancer, "dfs.Balancer",
     "Moving block {B} from {DN} to {DN2} through {DN3} is succeeded."},
    {Severity::kInfo, 2, kBalancer, "dfs.Balancer",
     "Need to move {SIZE} bytes to make the cluster balanced."},
    {Severity::kError, 2, kBalancer, "dfs.Balancer",
     "Error moving block {B} from {DN} to {DN2} through {DN3}: block move is failed"},
};

enum class Slot {
  kLiteral,
  kBlock,
  kIp,
  kDataNode,
  kDataNode2,
  kDataNode3,
  kPort,
  kSize,
  kResponder,
  kTask,
  kSubdir
};

struct Segment {
  Slot slot;
  std::string_view literal;
};

struct CompiledTemplate {
  const Template* source;
  std::vector<Segment> segments;
  std::string prefix;  // the constant JSON before the body: `"severity_text":...,"body":"`
  std::string suffix;  // the constant JSON after the body
};

bool CompileTemplate(const Template& source, CompiledTemplate& compiled, Severity severity) {
  static constexpr std::pair<std::string_view, Slot> kNames[] = {
      {"{B}", Slot::kBlock},       {"{IP}", Slot::kIp},         {"{DN}", Slot::kDataNode},
      {"{DN2}", Slot::kDataNode2}, {"{DN3}", Slot::kDataNode3}, {"{PORT}", Slot::kPort},
      {"{SIZE}", Slot::kSize},     {"{N}", Slot::kResponder},   {"{TASK}", Slot::kTask},
      {"{SUB}", Slot::kSubdir}};
  compiled.source = &source;
  std::string_view rest = source.pattern;
  if (rest.find_first_of("\"\\") != std::string_view::npos) return false;  // no escaping done
  while (!rest.empty()) {
    const size_t open = rest.find('{');
    if (open == std::string_view::npos) {
      compiled.segments.push_back({Slot::kLiteral, rest});
      break;
    }
    if (open > 0) compiled.segments.push_back({Slot::kLiteral, rest.substr(0, open)});
    rest.remove_prefix(open);
    bool matched = false;
    for (const auto& [name, slot] : kNames) {
      if (rest.substr(0, name.size()) == name) {
        compiled.segments.push_back({slot, {}});
        rest.remove_prefix(name.size());
        matched = true;
        break;
      }
    }
    if (!matched) return false;
  }
  compiled.prefix =
      std::string(",\"severity_text\":\"") + std::string(SeverityName(severity)) + "\",\"body\":\"";
  compiled.suffix = std::string("\",\"resource\":{\"service\":\"") + std::string(source.service) +
                    "\"},\"attributes\":{\"class\":\"" + std::string(source.component) + "\"}}\n";
  return true;
}

// Weighted choice among the templates of one severity.
struct TemplateTable {
  std::vector<CompiledTemplate> templates;
  std::vector<uint64_t> cumulative_weights;

  const CompiledTemplate& Pick(Random& random) const {
    const uint64_t target = random.Below(cumulative_weights.back());
    size_t low = 0;
    size_t high = cumulative_weights.size() - 1;
    while (low < high) {
      const size_t mid = (low + high) / 2;
      if (cumulative_weights[mid] > target) {
        high = mid;
      } else {
        low = mid + 1;
      }
    }
    return templates[low];
  }
};

// A large output buffer flushed with fwrite.
class Output {
 public:
  static constexpr size_t kCapacity = 8 << 20;
  static constexpr size_t kMaxLine = 4096;

  explicit Output(FILE* file) : file_(file), buffer_(kCapacity), cursor_(buffer_.data()) {}

  // Flushes when fewer than kMaxLine bytes are left, so one document always fits.
  bool EnsureRoom() {
    if (static_cast<size_t>(buffer_.data() + buffer_.size() - cursor_) >= kMaxLine) return true;
    return Flush();
  }

  bool Flush() {
    const size_t size = static_cast<size_t>(cursor_ - buffer_.data());
    cursor_ = buffer_.data();
    return size == 0 || fwrite(buffer_.data(), 1, size, file_) == size;
  }

  void Append(std::string_view text) {
    memcpy(cursor_, text.data(), text.size());
    cursor_ += text.size();
  }
  void Append(char c) { *cursor_++ = c; }
  void AppendInt(int64_t value) { cursor_ = std::to_chars(cursor_, cursor_ + 24, value).ptr; }
  void AppendPadded(uint64_t value, int width) {
    char digits[24];
    char* end = std::to_chars(digits, digits + sizeof(digits), value).ptr;
    for (int missing = width - static_cast<int>(end - digits); missing > 0; --missing) Append('0');
    Append(std::string_view(digits, static_cast<size_t>(end - digits)));
  }

 private:
  FILE* file_;
  std::vector<char> buffer_;
  char* cursor_;
};

struct Flags {
  uint64_t num_docs = 1'000'000;
  uint64_t seed = 42;
  int64_t start_timestamp = 1'700'000'000;
  uint64_t docs_per_second = 100;
  std::string output_path = "-";
};

struct Address {
  std::array<uint8_t, 4> octets;
};

void AppendAddress(Output& out, const Address& address) {
  for (int i = 0; i < 4; ++i) {
    if (i > 0) out.Append('.');
    out.AppendInt(address.octets[i]);
  }
}

int Generate(const Flags& flags) {
  std::array<TemplateTable, 4> tables;
  for (const Severity severity :
       {Severity::kInfo, Severity::kWarn, Severity::kError, Severity::kDebug}) {
    TemplateTable& table = tables[static_cast<size_t>(severity)];
    uint64_t total_weight = 0;
    for (const Template& source : kTemplates) {
      const Severity template_severity =
          source.severity == Severity::kInfo && severity == Severity::kDebug ? Severity::kDebug
                                                                             : source.severity;
      if (template_severity != severity) continue;
      CompiledTemplate compiled;
      if (!CompileTemplate(source, compiled, severity)) {
        fprintf(stderr, "error: bad template `%.*s`\n", static_cast<int>(source.pattern.size()),
                source.pattern.data());
        return 1;
      }
      total_weight += static_cast<uint64_t>(source.weight);
      table.templates.push_back(std::move(compiled));
      table.cumulative_weights.push_back(total_weight);
    }
  }

  FILE* file = stdout;
  if (flags.output_path != "-") {
    file = fopen(flags.output_path.c_str(), "wb");
    if (file == nullptr) {
      fprintf(stderr, "error: cannot open %s: %s\n", flags.output_path.c_str(), strerror(errno));
      return 1;
    }
  }

  Random random(flags.seed);
  // A fixed cluster of datanodes, like the ~200 hosts of the Loghub HDFS cluster.
  std::vector<Address> hosts(203);
  for (Address& host : hosts) {
    host.octets = {10, static_cast<uint8_t>(250 + random.Below(2)),
                   static_cast<uint8_t>(random.Below(256)),
                   static_cast<uint8_t>(1 + random.Below(254))};
  }
  // Recently used blocks: a block shows up in several documents (allocate, receive, ack...).
  std::vector<int64_t> recent_blocks(8192);
  for (int64_t& block : recent_blocks) block = static_cast<int64_t>(random.Next());

  Output out(file);
  const uint64_t docs_per_second = flags.docs_per_second == 0 ? 1 : flags.docs_per_second;
  for (uint64_t doc = 0; doc < flags.num_docs; ++doc) {
    if (!out.EnsureRoom()) break;
    const uint64_t severity_draw = random.Below(1000);
    const Severity severity = severity_draw < 850   ? Severity::kInfo
                              : severity_draw < 950 ? Severity::kWarn
                              : severity_draw < 990 ? Severity::kError
                                                    : Severity::kDebug;
    const CompiledTemplate& compiled = tables[static_cast<size_t>(severity)].Pick(random);
    // Skewed tenants: tenant 1 gets ~21% of the documents, tenant 100 ~0.01%.
    const double tenant_draw = random.Unit();
    const uint64_t tenant_id =
        1 + static_cast<uint64_t>(100.0 * tenant_draw * tenant_draw * tenant_draw);

    int64_t block = 0;
    const size_t block_slot = random.Below(recent_blocks.size());
    if (random.Below(10) < 6) {
      block = recent_blocks[block_slot];
    } else {
      block = static_cast<int64_t>(random.Next());
      recent_blocks[block_slot] = block;
    }
    const Address& ip = hosts[random.Below(hosts.size())];
    const Address& datanode = hosts[random.Below(hosts.size())];
    const Address& datanode2 = hosts[random.Below(hosts.size())];
    const uint64_t size = random.Below(5) < 4 ? 67108864 : 1 + random.Below(67108864);

    out.Append("{\"timestamp\":");
    out.AppendInt(flags.start_timestamp + static_cast<int64_t>(doc / docs_per_second));
    out.Append(",\"tenant_id\":");
    out.AppendInt(static_cast<int64_t>(tenant_id > 100 ? 100 : tenant_id));
    out.Append(compiled.prefix);
    for (const Segment& segment : compiled.segments) {
      switch (segment.slot) {
        case Slot::kLiteral:
          out.Append(segment.literal);
          break;
        case Slot::kBlock:
          out.Append("blk_");
          out.AppendInt(block);
          break;
        case Slot::kIp:
          AppendAddress(out, ip);
          break;
        case Slot::kDataNode:
          AppendAddress(out, datanode);
          out.Append(":50010");
          break;
        case Slot::kDataNode2:
          AppendAddress(out, datanode2);
          out.Append(":50010");
          break;
        case Slot::kDataNode3:
          AppendAddress(out, ip);
          out.Append(":50010");
          break;
        case Slot::kPort:
          out.AppendInt(static_cast<int64_t>(32768 + random.Below(28232)));
          break;
        case Slot::kSize:
          out.AppendInt(static_cast<int64_t>(size));
          break;
        case Slot::kResponder:
          out.AppendInt(static_cast<int64_t>(random.Below(3)));
          break;
        case Slot::kTask: {
          const uint64_t part = random.Below(1000);
          out.Append("_task_200811092030_0001_m_");
          out.AppendPadded(part, 6);
          out.Append("_0/part-");
          out.AppendPadded(part, 5);
          break;
        }
        case Slot::kSubdir:
          out.AppendInt(static_cast<int64_t>(random.Below(64)));
          break;
      }
    }
    out.Append(compiled.suffix);
  }
  bool ok = out.Flush();
  if (file != stdout) {
    ok = fclose(file) == 0 && ok;
  } else {
    ok = fflush(stdout) == 0 && ok;
  }
  if (!ok) {
    fprintf(stderr, "error: cannot write %s: %s\n",
            flags.output_path == "-" ? "<stdout>" : flags.output_path.c_str(), strerror(errno));
    return 1;
  }
  return 0;
}

int Main(int argc, char** argv) {
  Flags flags;
  CLI::App app{"Generates HDFS-like log documents as NDJSON (see bench/README.md)",
               "shale_gen_logs"};
  app.add_option("--num-docs", flags.num_docs, "Number of documents")->capture_default_str();
  app.add_option("--seed", flags.seed, "PRNG seed; same seed, same output")->capture_default_str();
  app.add_option("--start-timestamp", flags.start_timestamp, "Timestamp of the first document")
      ->capture_default_str();
  app.add_option("--docs-per-second", flags.docs_per_second, "Documents per second of timestamps")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--output,-o", flags.output_path, "Output file, - for stdout")
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error);
  }
  return Generate(flags);
}

}  // namespace
}  // namespace shale::bench

int main(int argc, char** argv) { return shale::bench::Main(argc, argv); }
