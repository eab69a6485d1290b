// AppendBuffer: a byte buffer for the hot paths that build documents byte by byte. Unlike
// std::string it grows without zero-filling and its appends are inline (libstdc++ keeps
// std::string's members out of line: a call per character appended).
#pragma once

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "common/check.h"

namespace shale::index::internal {

class AppendBuffer {
 public:
  AppendBuffer() = default;
  AppendBuffer(const AppendBuffer&) = delete;
  AppendBuffer& operator=(const AppendBuffer&) = delete;
  AppendBuffer(AppendBuffer&& other) noexcept
      : data_(other.data_), size_(other.size_), capacity_(other.capacity_) {
    other.data_ = nullptr;
    other.size_ = other.capacity_ = 0;
  }
  AppendBuffer& operator=(AppendBuffer&& other) noexcept {
    if (this != &other) {
      std::free(data_);
      data_ = other.data_;
      size_ = other.size_;
      capacity_ = other.capacity_;
      other.data_ = nullptr;
      other.size_ = other.capacity_ = 0;
    }
    return *this;
  }
  ~AppendBuffer() { std::free(data_); }

  const char* data() const { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  size_t capacity() const { return capacity_; }
  std::string_view view() const { return std::string_view(data_, size_); }

  // Keeps the capacity.
  void clear() { size_ = 0; }
  // Drops the bytes from `size` on. REQUIRES: size <= size().
  void Truncate(size_t size) { size_ = size; }
  void reserve(size_t capacity) {
    if (capacity > capacity_) Grow(capacity);
  }

  void push_back(char c) {
    if (size_ == capacity_) Grow(size_ + 1);
    data_[size_++] = c;
  }
  void append(const char* bytes, size_t n) {
    if (n > capacity_ - size_) Grow(size_ + n);
    if (n != 0) std::memcpy(data_ + size_, bytes, n);
    size_ += n;
  }
  void append(std::string_view bytes) { append(bytes.data(), bytes.size()); }
  AppendBuffer& operator+=(std::string_view bytes) {
    append(bytes);
    return *this;
  }

 private:
  // At least doubles, so that appends are amortized O(1).
  void Grow(size_t min_capacity) {
    const size_t capacity = std::max({min_capacity, 2 * capacity_, size_t{256}});
    void* data = std::realloc(data_, capacity);
    SHALE_CHECK(data != nullptr) << "out of memory: cannot grow a buffer to " << capacity
                                 << " bytes";
    data_ = static_cast<char*>(data);
    capacity_ = capacity;
  }

  char* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

}  // namespace shale::index::internal
