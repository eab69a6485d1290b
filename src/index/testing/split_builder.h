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

// Adds the documents one AddDocument call each, or `docs_per_call` > 1 of them per
// AddDocuments call (as the ingest pipelines do).
inline SerializedSplit BuildTestSplit(const DocMapping& mapping,
                                      const std::vector<std::string>& docs,
                                      const SplitWriterOptions& options = {},
                                      size_t docs_per_call = 1) {
  auto processor = DocProcessor::Create(mapping);
  EXPECT_TRUE(processor.ok()) << processor.status();
  auto writer = SplitWriter::Create(mapping, options);
  EXPECT_TRUE(writer.ok()) << writer.status();
  if (!processor.ok() || !writer.ok()) return {};
  ProcessedDocs batch;
  for (const std::string& json : docs) {
    if (docs_per_call <= 1) {
      auto processed = (*processor)->Process(json);
      EXPECT_TRUE(processed.ok()) << processed.status() << " " << json;
      if (processed.ok()) (*writer)->AddDocument(*std::move(processed));
      continue;
    }
    const absl::Status status = (*processor)->ProcessInto(json, batch);
    EXPECT_TRUE(status.ok()) << status << " " << json;
    if (batch.size() == docs_per_call) {
      (*writer)->AddDocuments(batch, 0, batch.size());
      batch.Clear();
    }
  }
  if (!batch.empty()) (*writer)->AddDocuments(batch, 0, batch.size());
  auto split = (*writer)->Finish();
  EXPECT_TRUE(split.ok()) << split.status();
  return split.ok() ? *std::move(split) : SerializedSplit{};
}

}  // namespace shale::index::testing
