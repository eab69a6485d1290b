// The in-memory term dictionaries of SplitWriter: byte strings interned into dense ids, with a
// value per id.
//
// ByteArena copies byte strings into pages it owns; a stored string never moves and lives as
// long as the arena. TermTable<Value> maps a byte string to a dense id (0, 1, 2... in insertion
// order) and holds, by id, the string and a Value in one entry: a string of up to
// kInlineKeyBytes inside the entry, a longer one in a ByteArena. Compared to
// `absl::flat_hash_map<std::string, uint32_t>` plus a vector by id: no allocation per new term
// (its bytes are stored once, in the entry or the arena), the hash of a looked-up string is
// computed once whether it is found or inserted, and a found term costs two cache lines (its
// slot, then its entry: size, bytes and value side by side) instead of four (control bytes,
// slot, heap string, value). With a 32-byte Value an entry is one 64-byte cache line.
//
// Layout: open addressing with linear probing over a power-of-two array of 8-byte slots, each
// `tag << 32 | (id + 1)` (0: empty), where the slot index is the top bits of the string's
// XXH3-64 and the tag its low 32 bits, so that a probe compares bytes only on a 32-bit tag
// match. The table doubles at 3/4 load (a rehash recomputes each string's hash from the arena).
// Entries live in chunks of kChunkEntries (the first one grows up to that size): growth beyond
// copies no entry and needs no transient double-size buffer.
//
// Thread safety: none; one writer owns its arena and tables.
// Invariants: ids are < size(); every slot id names an entry; an entry's key is stored in the
// arena given to the table's FindOrInsert calls, which must outlive the table.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

#include "common/check.h"
#include "index/internal/bytes_equal.h"
// Inlined: tokens are a few bytes long, and a call into the shared library costs more than
// hashing them (same XXH3-64 values).
#ifndef XXH_INLINE_ALL
#define XXH_INLINE_ALL
#endif
#include "xxhash.h"

namespace shale::index::internal {

class ByteArena {
 public:
  ByteArena() = default;
  ByteArena(const ByteArena&) = delete;
  ByteArena& operator=(const ByteArena&) = delete;
  ByteArena(ByteArena&&) noexcept = default;
  ByteArena& operator=(ByteArena&&) noexcept = default;

  // Copies `bytes` into the arena; the returned view stays valid while the arena lives.
  std::string_view Copy(std::string_view bytes) {
    if (bytes.empty()) return {};
    if (bytes.size() > static_cast<size_t>(page_end_ - page_next_)) [[unlikely]]
      return CopyToNewBlock(bytes);
    char* stored = page_next_;
    std::memcpy(stored, bytes.data(), bytes.size());
    page_next_ += bytes.size();
    return {stored, bytes.size()};
  }

  // Bytes allocated by the arena (whole pages, used or not).
  uint64_t memory_bytes() const { return memory_bytes_; }

 private:
  static constexpr size_t kPageBytes = size_t{64} << 10;

  std::string_view CopyToNewBlock(std::string_view bytes) {
    // A string over a quarter of a page gets a block of its own, so that it wastes no page.
    const size_t block_size = bytes.size() > kPageBytes / 4 ? bytes.size() : kPageBytes;
    blocks_.push_back(std::make_unique_for_overwrite<char[]>(block_size));
    memory_bytes_ += block_size;
    char* stored = blocks_.back().get();
    std::memcpy(stored, bytes.data(), bytes.size());
    if (block_size == kPageBytes) {
      page_next_ = stored + bytes.size();
      page_end_ = stored + kPageBytes;
    }
    return {stored, bytes.size()};
  }

  std::vector<std::unique_ptr<char[]>> blocks_;
  char* page_next_ = nullptr;
  char* page_end_ = nullptr;
  uint64_t memory_bytes_ = 0;
};

template <typename Value>
class TermTable {
 public:
  // Strings of up to this many bytes are stored in their entry, longer ones in the arena.
  static constexpr uint32_t kInlineKeyBytes = 28;

  struct FindResult {
    uint32_t id;
    bool inserted;  // the key was new: its entry's value is Value{}
  };

  TermTable() = default;
  TermTable(const TermTable&) = delete;
  TermTable& operator=(const TermTable&) = delete;

  // The hash FindOrInsert and the prefetches take.
  static uint64_t Hash(std::string_view key) { return XXH3_64bits(key.data(), key.size()); }

  // Hints that a key of hash `hash` will be looked up soon: fetches its first slot.
  void PrefetchSlot(uint64_t hash) const {
    if (!slots_.empty()) __builtin_prefetch(&slots_[hash >> shift_]);
  }
  // Hints that a key of hash `hash` will be looked up soon: when its first slot (best fetched
  // with PrefetchSlot beforehand) holds a key of the same tag, fetches that key's entry.
  void PrefetchEntry(uint64_t hash) const {
    if (const Entry* entry = ProbableEntry(hash)) __builtin_prefetch(entry);
  }
  // The value of the key in the first slot of hash `hash` when its tag matches: most likely, but
  // not surely, the value of any key of that hash (for prefetching only), else null. Best called
  // once PrefetchEntry(hash) has fetched it.
  const Value* ProbableValue(uint64_t hash) const {
    const Entry* entry = ProbableEntry(hash);
    return entry == nullptr ? nullptr : &entry->value;
  }

  // The id of `key`, inserting it (its bytes copied into `arena`, its value Value{}) when absent.
  FindResult FindOrInsert(std::string_view key, ByteArena& arena) {
    return FindOrInsert(key, Hash(key), arena);
  }
  // The same, with `hash` == Hash(key) computed by the caller.
  FindResult FindOrInsert(std::string_view key, uint64_t hash, ByteArena& arena) {
    SHALE_DCHECK(hash == Hash(key)) << "the hash given for a term is not its Hash";
    if (slots_.empty()) [[unlikely]]
      Resize(kInitialSlots);
    const auto tag = static_cast<uint32_t>(hash);
    size_t index = static_cast<size_t>(hash >> shift_);
    while (true) {
      const uint64_t slot = slots_[index];
      if (slot == 0) break;
      if (static_cast<uint32_t>(slot >> 32) == tag) {
        const auto id = static_cast<uint32_t>(slot) - 1;
        if (EntryAt(id).KeyEquals(key)) return {id, false};
      }
      index = (index + 1) & (slots_.size() - 1);
    }
    SHALE_CHECK(size_ < kMaxEntries) << "more than " << kMaxEntries << " terms in one field";
    SHALE_CHECK(key.size() <= UINT32_MAX) << "a term of " << key.size() << " bytes";
    const uint32_t id = size_;
    if (id == capacity_) [[unlikely]]
      AddCapacity();
    EntryAt(id).SetKey(key, arena);
    ++size_;
    slots_[index] = (uint64_t{tag} << 32) | (id + 1);
    if (size_ > slots_.size() / 4 * 3) [[unlikely]]
      Resize(slots_.size() * 2);
    return {id, true};
  }

  uint32_t size() const { return size_; }
  // REQUIRES: id < size(). The view is valid while the table and its arena live.
  std::string_view key(uint32_t id) const { return EntryAt(id).Key(); }
  // Hints that value(id) will be read soon. REQUIRES: id < size().
  void PrefetchValue(uint32_t id) const { __builtin_prefetch(&EntryAt(id)); }
  // REQUIRES: id < size(). The reference is valid until the next FindOrInsert.
  Value& value(uint32_t id) { return EntryAt(id).value; }
  const Value& value(uint32_t id) const { return EntryAt(id).value; }

  // Bytes held by the slots and entries (the keys' bytes are the arena's).
  uint64_t memory_bytes() const {
    return slots_.capacity() * sizeof(uint64_t) + uint64_t{capacity_} * sizeof(Entry) +
           chunks_.capacity() * sizeof(std::unique_ptr<Entry[]>);
  }

 private:
  static constexpr size_t kInitialSlots = 16;
  static constexpr uint32_t kFirstChunkEntries = 8;
  static constexpr uint32_t kChunkEntries = 1024;
  static constexpr uint32_t kMaxEntries = UINT32_MAX - 1;  // slot ids are id + 1 in 32 bits

  // Entries of 64 bytes are aligned on cache lines, smaller ones on 32 bytes.
  struct alignas(sizeof(Value) + 4 + kInlineKeyBytes >= 64 ? 64 : 32) Entry {
    uint32_t key_size = 0;
    // The key's bytes when key_size <= kInlineKeyBytes, else the address of its arena copy.
    char key_bytes[kInlineKeyBytes];
    [[no_unique_address]] Value value{};

    bool KeyEquals(std::string_view key) const {
      if (key.size() != key_size) return false;
      if (key_size > kInlineKeyBytes) return std::memcmp(Key().data(), key.data(), key_size) == 0;
      return ShortBytesEqual(key_bytes, key.data(), key_size);
    }

    std::string_view Key() const {
      if (key_size <= kInlineKeyBytes) return {key_bytes, key_size};
      const char* stored;
      std::memcpy(&stored, key_bytes, sizeof(stored));
      return {stored, key_size};
    }
    void SetKey(std::string_view key, ByteArena& arena) {
      key_size = static_cast<uint32_t>(key.size());
      if (key.size() <= kInlineKeyBytes) {
        if (!key.empty()) std::memcpy(key_bytes, key.data(), key.size());
        return;
      }
      const char* stored = arena.Copy(key).data();
      std::memcpy(key_bytes, &stored, sizeof(stored));
    }
  };

  const Entry* ProbableEntry(uint64_t hash) const {
    if (slots_.empty()) return nullptr;
    const uint64_t slot = slots_[hash >> shift_];
    if (slot == 0 || static_cast<uint32_t>(slot >> 32) != static_cast<uint32_t>(hash)) {
      return nullptr;
    }
    return &EntryAt(static_cast<uint32_t>(slot) - 1);
  }

  Entry& EntryAt(uint32_t id) { return chunks_[id / kChunkEntries][id % kChunkEntries]; }
  const Entry& EntryAt(uint32_t id) const {
    return chunks_[id / kChunkEntries][id % kChunkEntries];
  }

  // The first chunk doubles from kFirstChunkEntries to kChunkEntries (a table of a few terms
  // stays small: a dynamic mapping may capture thousands of fields); then a chunk is added.
  void AddCapacity() {
    if (capacity_ >= kChunkEntries) {
      chunks_.push_back(std::make_unique<Entry[]>(kChunkEntries));
      capacity_ += kChunkEntries;
      return;
    }
    const uint32_t grown = capacity_ == 0 ? kFirstChunkEntries : capacity_ * 2;
    auto first = std::make_unique<Entry[]>(grown);
    for (uint32_t id = 0; id < size_; ++id) first[id] = std::move(chunks_[0][id]);
    if (chunks_.empty()) {
      chunks_.push_back(std::move(first));
    } else {
      chunks_[0] = std::move(first);
    }
    capacity_ = grown;
  }

  // REQUIRES: `num_slots` a power of two, at least 16 and above size() / 0.75.
  void Resize(size_t num_slots) {
    std::vector<uint64_t> slots(num_slots, 0);
    shift_ = 64 - static_cast<int>(std::countr_zero(num_slots));
    for (uint32_t id = 0; id < size_; ++id) {
      const uint64_t hash = Hash(EntryAt(id).Key());
      size_t index = static_cast<size_t>(hash >> shift_);
      while (slots[index] != 0) index = (index + 1) & (num_slots - 1);
      slots[index] = (hash << 32) | (id + 1);
    }
    slots_ = std::move(slots);
  }

  std::vector<uint64_t> slots_;
  std::vector<std::unique_ptr<Entry[]>> chunks_;
  uint32_t size_ = 0;
  uint32_t capacity_ = 0;  // entries allocated in chunks_
  int shift_ = 64;
};

}  // namespace shale::index::internal
