// Document-at-a-time matching and BM25 scoring over block posting lists (docs/format/split.md,
// postings v2). A DocScorer walks the docs matching one query node in increasing doc id order,
// skipping whole posting blocks where it can (SeekTo), and scores only the docs it stops on. It
// serves top-k searches by `_score` (no dense per-doc score array, no bitset per clause) and
// phrase matching (doc ids are intersected first; positions are decoded only for the docs in
// every term's list). Private to index/.
//
// Scores are bit-identical to the bitset evaluation of split_reader.cc: every node adds its
// children's scores in clause order, starting from 0, and multiplies by its boost last.
//
// Thread safety: a scorer tree is used by one thread; it reads bytes it owns.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "index/internal/block_postings.h"
#include "index/internal/doc_set.h"
#include "index/internal/split_layout.h"

namespace shale::index::internal {

inline constexpr float kBm25K1 = 1.2f;
inline constexpr float kBm25B = 0.75f;

// BM25 weight of one term (or phrase) in one field of one split.
class Bm25Weight {
 public:
  // `idf`: the term's idf (a phrase passes the sum of its terms'). `norms`: one byte per doc, or
  // null when the field has none (every doc then counts as of average length); not owned, must
  // outlive the weight.
  Bm25Weight(float idf, const FieldEntry& field, const std::string* norms);
  static float Idf(uint64_t num_docs, uint64_t doc_freq);
  float Score(uint32_t doc, uint32_t freq) const {
    const auto tf = static_cast<float>(freq);
    // Without field norms every doc has the average length: the length factor is k1.
    const float length_factor =
        norms_ == nullptr ? kBm25K1 : length_factor_[static_cast<unsigned char>((*norms_)[doc])];
    return weight_ * tf / (tf + length_factor);
  }
  // An upper bound of Score() (the limit for a frequency without bound), up to float rounding.
  float MaxScore() const { return weight_; }

 private:
  const std::string* norms_;  // one byte per doc, or null
  float weight_ = 0;
  float length_factor_[256] = {};
};

// Number of ways the phrase whose i-th term occurs at `positions[i]` (sorted) matches with at
// most `slop` extra distance in total, terms in order: for each position of the first term, the
// next terms are taken greedily at their first position after the previous one, which minimizes
// the total distance.
uint32_t CountPhraseMatches(const std::vector<std::span<const uint32_t>>& positions,
                            uint32_t slop);

// Where scorers report corrupt input: the first error is kept. A scorer that meets corrupt input
// ends (doc() becomes kEnd) after recording it.
struct ScorerErrors {
  absl::Status first;
  void Add(absl::Status status) {
    if (first.ok()) first = std::move(status);
  }
};

class DocScorer {
 public:
  static constexpr uint32_t kEnd = BlockPostingIterator::kEnd;
  virtual ~DocScorer() = default;

  // The current doc, or kEnd once exhausted. A new scorer is on its first doc.
  uint32_t doc() const { return doc_; }
  // Advances to the next matching doc and returns it.
  virtual uint32_t Next() = 0;
  // Advances to the first matching doc >= `target` (never backwards) and returns it.
  virtual uint32_t SeekTo(uint32_t target) = 0;
  // The score of doc(). REQUIRES: doc() != kEnd.
  virtual float Score() = 0;
  // An upper bound of Score() over all docs, up to float rounding (callers add a margin).
  virtual float MaxScore() const = 0;
  // About how many docs the scorer can visit (for ordering the children of a conjunction).
  virtual uint64_t Cost() const = 0;
  // Two-phase iteration: a scorer whose matches need a costly check (a phrase's positions) also
  // moves over a cheaper superset of its docs, its approximation; Matches() checks the doc it is
  // on. Others' approximation is their match set. After ApproxNext / ApproxSeekTo, doc() is a
  // doc of the approximation; call Matches() before Score().
  virtual uint32_t ApproxNext() { return Next(); }
  virtual uint32_t ApproxSeekTo(uint32_t target) { return SeekTo(target); }
  // Whether doc() matches. REQUIRES: doc() != kEnd; called for increasing docs.
  virtual bool Matches() { return true; }
  // Tells the scorer that docs scoring at most `threshold` are not wanted: it may then skip
  // them (a union drops the clauses that cannot lift a doc above it). Only ever rises.
  virtual void SetMinCompetitiveScore(float /*threshold*/) {}

 protected:
  uint32_t doc_ = kEnd;
};

// Matches nothing.
std::unique_ptr<DocScorer> NewEmptyScorer();

// One term's posting list; scores BM25 with `weight` (null: unscored, Score() is 0), whose
// field norms `norms` keeps alive. `base_offset`: the split offset of `postings`, for error
// messages. `errors` must outlive the scorer.
std::unique_ptr<DocScorer> NewTermScorer(std::string postings, uint64_t doc_freq,
                                         uint32_t num_docs, bool with_freqs,
                                         std::optional<Bm25Weight> weight,
                                         std::shared_ptr<const std::string> norms,
                                         uint64_t base_offset, std::string split_name,
                                         ScorerErrors* errors);

// One term of a phrase: its posting list and position list, and their split offsets.
struct PhraseTerm {
  std::string postings;
  std::string positions;
  uint64_t doc_freq = 0;
  uint64_t postings_offset = 0;
  uint64_t positions_offset = 0;
};

// The docs holding the terms in order with at most `slop` extra positions in total; scores
// BM25 of the phrase frequency with `weight` (null: unscored). REQUIRES: terms.size() >= 2,
// each term's list records frequencies.
std::unique_ptr<DocScorer> NewPhraseScorer(std::vector<PhraseTerm> terms, uint32_t slop,
                                           uint32_t num_docs, std::optional<Bm25Weight> weight,
                                           std::shared_ptr<const std::string> norms,
                                           std::string split_name, ScorerErrors* errors);

// The docs of `docs`, unscored.
std::unique_ptr<DocScorer> NewDocSetScorer(DocSet docs);

// Multiplies the scores of `inner` by `boost`. REQUIRES: boost >= 0.
std::unique_ptr<DocScorer> NewBoostScorer(std::unique_ptr<DocScorer> inner, float boost);

// A clause of a Bool scorer.
struct ScoredClause {
  std::unique_ptr<DocScorer> scorer;
  bool scored = true;  // false: a filter, which adds nothing to the score
};

// The docs in every one of `required` (at least one), minus those in any of `excluded`; the
// score is the sum of the scored required clauses' scores in order, then of each `optional`
// clause matching the doc, in order.
std::unique_ptr<DocScorer> NewRequiredScorer(std::vector<ScoredClause> required,
                                             std::vector<std::unique_ptr<DocScorer>> optional,
                                             std::vector<std::unique_ptr<DocScorer>> excluded);

// The docs in any of `clauses` (at least one), minus those in any of `excluded`; the score is the
// sum of the matching clauses' scores, in order. With a minimum competitive score it skips the
// docs that only clauses whose bounds add up below it hold (MaxScore).
std::unique_ptr<DocScorer> NewUnionScorer(std::vector<std::unique_ptr<DocScorer>> clauses,
                                          std::vector<std::unique_ptr<DocScorer>> excluded);

}  // namespace shale::index::internal
