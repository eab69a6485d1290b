// DocSet: a set of doc ids of one split as a bitset of num_docs bits. Boolean combinations are
// word-wise loops. Private to index/.
//
// Thread safety: a plain value; const methods may run concurrently.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace shale::index::internal {

class DocSet {
 public:
  explicit DocSet(uint32_t num_docs, bool full = false)
      : num_docs_(num_docs), words_((num_docs + 63) / 64, full ? ~uint64_t{0} : 0) {
    if (full) ClearTail();
  }
  // REQUIRES: doc < num_docs().
  void Set(uint32_t doc) { words_[doc >> 6] |= uint64_t{1} << (doc & 63); }
  bool Test(uint32_t doc) const { return (words_[doc >> 6] >> (doc & 63)) & 1; }
  // REQUIRES: other.num_docs() == num_docs() for And, Or and AndNot.
  void And(const DocSet& other) {
    for (size_t i = 0; i < words_.size(); ++i) words_[i] &= other.words_[i];
  }
  void Or(const DocSet& other) {
    for (size_t i = 0; i < words_.size(); ++i) words_[i] |= other.words_[i];
  }
  void AndNot(const DocSet& other) {
    for (size_t i = 0; i < words_.size(); ++i) words_[i] &= ~other.words_[i];
  }
  uint64_t Count() const {
    uint64_t count = 0;
    for (uint64_t word : words_) count += static_cast<uint64_t>(std::popcount(word));
    return count;
  }
  // Calls `f(doc)` in increasing doc order until it returns false.
  template <typename F>
  void ForEachUntil(F&& f) const {
    for (size_t i = 0; i < words_.size(); ++i) {
      uint64_t word = words_[i];
      while (word != 0) {
        const int bit = std::countr_zero(word);
        if (!f(static_cast<uint32_t>(i * 64 + static_cast<size_t>(bit)))) return;
        word &= word - 1;
      }
    }
  }
  // Calls `f(doc)` in decreasing doc order until it returns false.
  template <typename F>
  void ForEachReverseUntil(F&& f) const {
    for (size_t i = words_.size(); i-- > 0;) {
      uint64_t word = words_[i];
      while (word != 0) {
        const int bit = 63 - std::countl_zero(word);
        if (!f(static_cast<uint32_t>(i * 64 + static_cast<size_t>(bit)))) return;
        word &= ~(uint64_t{1} << bit);
      }
    }
  }
  template <typename F>
  void ForEach(F&& f) const {
    for (size_t i = 0; i < words_.size(); ++i) {
      uint64_t word = words_[i];
      while (word != 0) {
        const int bit = std::countr_zero(word);
        f(static_cast<uint32_t>(i * 64 + static_cast<size_t>(bit)));
        word &= word - 1;
      }
    }
  }
  // The first doc >= `from` in the set, or num_docs() when there is none.
  uint32_t NextDoc(uint32_t from) const {
    if (from >= num_docs_) return num_docs_;
    size_t i = from >> 6;
    uint64_t word = words_[i] & (~uint64_t{0} << (from & 63));
    while (word == 0) {
      if (++i == words_.size()) return num_docs_;
      word = words_[i];
    }
    return static_cast<uint32_t>(i * 64 + static_cast<size_t>(std::countr_zero(word)));
  }
  uint32_t num_docs() const { return num_docs_; }

 private:
  void ClearTail() {
    if (num_docs_ % 64 != 0 && !words_.empty()) {
      words_.back() &= (uint64_t{1} << (num_docs_ % 64)) - 1;
    }
  }
  uint32_t num_docs_;
  std::vector<uint64_t> words_;
};

}  // namespace shale::index::internal
