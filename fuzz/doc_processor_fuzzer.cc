// libFuzzer target: the input is one JSON document for a DocProcessor whose mapping uses every
// field type (fuzz_mapping.h). A document it accepts is written to a split, which must open, and
// answer a search and a fetch of that document.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "fuzz_mapping.h"
#include "index/query.h"
#include "index/split_format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const shale::index::DocMapping kMapping = shale::fuzz::EveryTypeMapping();
  static const std::unique_ptr<shale::index::DocProcessor> kProcessor = [] {
    auto processor = shale::index::DocProcessor::Create(kMapping);
    if (!processor.ok()) std::abort();
    return *std::move(processor);
  }();
  const std::string_view json(reinterpret_cast<const char*>(data), size);
  auto doc = kProcessor->Process(json);
  if (!doc.ok()) return 0;
  auto writer = shale::index::SplitWriter::Create(kMapping, shale::index::SplitWriterOptions{});
  if (!writer.ok()) std::abort();
  (*writer)->AddDocument(*std::move(doc));
  auto split = (*writer)->Finish();
  if (!split.ok()) std::abort();  // an accepted document must always make a split
  auto reader = shale::index::SplitReader::Open(
      shale::index::NewMemoryByteRangeSource("fuzz-doc", split->bytes));
  if (!reader.ok()) std::abort();
  auto result = (*reader)->Search(*shale::index::MakeAllQuery(), shale::index::SplitSearchRequest{});
  if (!result.ok() || result->num_hits != 1) std::abort();
  if (!(*reader)->FetchDocument(0).ok()) std::abort();
  return 0;
}
