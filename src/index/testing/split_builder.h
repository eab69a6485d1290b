// Test-only: builds a split from JSON documents with DocProcessor + SplitWriter, failing the
// current test (and skipping the document) on any error.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

#include "index/doc_mapping.h"
#include "index/split_format.h"

namespace shale::index::testing {

inline SerializedSplit BuildTestSplit(const DocMapping& mapping,
                                      const std::vector<std::string>& docs,
                                      const SplitWriterOptions& options = {}) {
  auto processor = DocProcessor::Create(mapping);
  EXPECT_TRUE(processor.ok()) << processor.status();
  auto writer = SplitWriter::Create(mapping, options);
  EXPECT_TRUE(writer.ok()) << writer.status();
  if (!processor.ok() || !writer.ok()) return {};
  for (const std::string& json : docs) {
    auto processed = (*processor)->Process(json);
    EXPECT_TRUE(processed.ok()) << processed.status() << " " << json;
    if (processed.ok()) (*writer)->AddDocument(*std::move(processed));
  }
  auto split = (*writer)->Finish();
  EXPECT_TRUE(split.ok()) << split.status();
  return split.ok() ? *std::move(split) : SerializedSplit{};
}

}  // namespace shale::index::testing
