// Test helper: the stored documents (JSON text) of published splits, read back through the
// split reader, for tests that check what an indexing path stored. Read errors are gtest
// failures.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "index/query.h"
#include "metastore/metastore.h"
#include "split/split_store.h"
#include "storage/storage.h"

namespace shale::indexing::testing {

// Every stored document of `splits` on `storage`, split by split in doc id order.
inline std::vector<std::string> StoredDocuments(const std::shared_ptr<storage::Storage>& storage,
                                                const std::vector<metastore::Split>& splits) {
  std::vector<std::string> documents;
  for (const metastore::Split& split : splits) {
    split::SplitLocation location{split.metadata.split_id, split.metadata.split_size_bytes,
                                  split.metadata.footer_start, split.metadata.footer_end};
    auto reader = split::OpenSplit(storage, location);
    EXPECT_TRUE(reader.ok()) << reader.status();
    if (!reader.ok()) continue;
    index::SplitSearchRequest request;
    request.top_k = static_cast<uint32_t>(split.metadata.num_docs);
    request.sort_by = {index::SortField{"_doc", index::SortOrder::kAsc}};
    auto result = (*reader)->Search(*index::MakeAllQuery(), request);
    EXPECT_TRUE(result.ok()) << result.status();
    if (!result.ok()) continue;
    EXPECT_EQ(result->hits.size(), split.metadata.num_docs);
    for (const index::SplitHit& hit : result->hits) {
      auto document = (*reader)->FetchDocument(hit.doc_id);
      EXPECT_TRUE(document.ok()) << document.status();
      if (document.ok()) documents.push_back(*std::move(document));
    }
  }
  return documents;
}

}  // namespace shale::indexing::testing
