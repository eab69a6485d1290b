#include "index/internal/doc_scorers.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <utility>

#include "fmt/format.h"
#include "index/internal/encoding.h"

namespace shale::index::internal {

namespace {

// Score bounds are sums of floats rounded in some order; pruning compares them with this
// relative margin so that rounding never drops a competitive doc.
constexpr double kBoundMargin = 1e-4;

absl::Status Corrupt(const std::string& split_name, const char* what, uint64_t offset) {
  return absl::DataLossError(fmt::format("split {}: {} at offset {}", split_name, what, offset));
}

class EmptyScorer final : public DocScorer {
 public:
  uint32_t Next() override { return kEnd; }
  uint32_t SeekTo(uint32_t) override { return kEnd; }
  float Score() override { return 0; }
  float MaxScore() const override { return 0; }
  uint64_t Cost() const override { return 0; }
};

class TermScorer final : public DocScorer {
 public:
  TermScorer(std::string postings, uint64_t doc_freq, uint32_t num_docs, bool with_freqs,
             std::optional<Bm25Weight> weight, std::shared_ptr<const std::string> norms,
             uint64_t base_offset, std::string split_name, ScorerErrors* errors)
      : postings_(std::move(postings)),
        it_(postings_, doc_freq, num_docs, with_freqs, /*decode_freqs=*/weight.has_value()),
        weight_(std::move(weight)),
        norms_(std::move(norms)),
        base_offset_(base_offset),
        split_name_(std::move(split_name)),
        errors_(errors) {
    Sync();
  }
  uint32_t Next() override {
    it_.Next();
    return Sync();
  }
  uint32_t SeekTo(uint32_t target) override {
    it_.SeekTo(target);
    return Sync();
  }
  float Score() override { return weight_.has_value() ? weight_->Score(doc_, it_.freq()) : 0.0f; }
  float MaxScore() const override { return weight_.has_value() ? weight_->MaxScore() : 0.0f; }
  uint64_t Cost() const override { return it_.doc_freq(); }

 private:
  uint32_t Sync() {
    doc_ = it_.doc();
    if (doc_ == kEnd && it_.corrupt()) {
      errors_->Add(
          Corrupt(split_name_, "bad block posting list", base_offset_ + it_.corrupt_offset()));
    }
    return doc_;
  }

  std::string postings_;
  BlockPostingIterator it_;
  std::optional<Bm25Weight> weight_;
  std::shared_ptr<const std::string> norms_;  // read by weight_
  uint64_t base_offset_;
  std::string split_name_;
  ScorerErrors* errors_;
};

class PhraseScorer final : public DocScorer {
 public:
  PhraseScorer(std::vector<PhraseTerm> terms, uint32_t slop, uint32_t num_docs,
               std::optional<Bm25Weight> weight, std::shared_ptr<const std::string> norms,
               std::string split_name, ScorerErrors* errors)
      : terms_(std::move(terms)),
        slop_(slop),
        weight_(std::move(weight)),
        norms_(std::move(norms)),
        split_name_(std::move(split_name)),
        errors_(errors),
        positions_(terms_.size()),
        spans_(terms_.size()) {
    iterators_.reserve(terms_.size());
    readers_.reserve(terms_.size());
    for (const PhraseTerm& term : terms_) {
      iterators_.push_back(std::make_unique<BlockPostingIterator>(
          term.postings, term.doc_freq, num_docs, /*with_freqs=*/true, /*decode_freqs=*/true,
          /*track_positions=*/true));
      readers_.emplace_back(term.positions);
    }
    order_.resize(terms_.size());
    std::iota(order_.begin(), order_.end(), size_t{0});
    std::stable_sort(order_.begin(), order_.end(), [this](size_t a, size_t b) {
      return terms_[a].doc_freq < terms_[b].doc_freq;
    });
    Settle(iterators_[order_[0]]->doc());
  }
  uint32_t Next() override {
    if (doc_ == kEnd) return kEnd;
    return Settle(iterators_[order_[0]]->Next());
  }
  uint32_t SeekTo(uint32_t target) override {
    if (doc_ == kEnd || doc_ >= target) return doc_;
    return Settle(iterators_[order_[0]]->SeekTo(target));
  }
  uint32_t ApproxNext() override {
    if (doc_ == kEnd) return kEnd;
    checked_ = confirmed_ = false;
    return doc_ = Align(iterators_[order_[0]]->Next());
  }
  uint32_t ApproxSeekTo(uint32_t target) override {
    if (doc_ == kEnd || doc_ >= target) return doc_;
    checked_ = confirmed_ = false;
    return doc_ = Align(iterators_[order_[0]]->SeekTo(target));
  }
  bool Matches() override {
    if (checked_) return confirmed_;
    checked_ = true;
    if (!ReadPositions()) {
      End();
      return false;
    }
    phrase_freq_ = CountPhraseMatches(spans_, slop_);
    confirmed_ = phrase_freq_ > 0;
    return confirmed_;
  }
  float Score() override { return weight_.has_value() ? weight_->Score(doc_, phrase_freq_) : 0.0f; }
  float MaxScore() const override { return weight_.has_value() ? weight_->MaxScore() : 0.0f; }
  uint64_t Cost() const override { return terms_[order_[0]].doc_freq; }

 private:
  // The first doc >= `candidate` (the lead's current doc) in every term's list, or kEnd.
  uint32_t Align(uint32_t candidate) {
    BlockPostingIterator& lead = *iterators_[order_[0]];
    while (candidate != kEnd) {
      bool in_all = true;
      for (size_t k = 1; k < order_.size(); ++k) {
        const uint32_t doc = iterators_[order_[k]]->SeekTo(candidate);
        if (doc != candidate) {
          in_all = false;
          candidate = doc == kEnd ? kEnd : lead.SeekTo(doc);
          break;
        }
      }
      if (in_all) return candidate;
    }
    return End();
  }

  // Moves to the first doc >= `candidate` (the lead's current doc) where the phrase occurs.
  uint32_t Settle(uint32_t candidate) {
    BlockPostingIterator& lead = *iterators_[order_[0]];
    while ((candidate = Align(candidate)) != kEnd) {
      doc_ = candidate;
      checked_ = confirmed_ = false;
      if (Matches()) return doc_;
      if (doc_ == kEnd) return kEnd;  // corrupt positions
      candidate = lead.Next();
    }
    return End();
  }

  // Decodes the positions of the current doc of every term. False on corrupt input.
  bool ReadPositions() {
    for (size_t i = 0; i < terms_.size(); ++i) {
      const BlockPostingIterator& it = *iterators_[i];
      if (!readers_[i].Read(it.position_index(), it.freq(), positions_[i])) {
        errors_->Add(Corrupt(split_name_, "bad position list",
                             terms_[i].positions_offset + readers_[i].corrupt_offset()));
        return false;
      }
      spans_[i] = positions_[i];
    }
    return true;
  }

  uint32_t End() {
    doc_ = kEnd;
    for (size_t i = 0; i < terms_.size(); ++i) {
      if (iterators_[i]->corrupt()) {
        errors_->Add(Corrupt(split_name_, "bad block posting list",
                             terms_[i].postings_offset + iterators_[i]->corrupt_offset()));
      }
    }
    return kEnd;
  }

  std::vector<PhraseTerm> terms_;  // in phrase order; the iterators read their bytes
  uint32_t slop_;
  std::optional<Bm25Weight> weight_;
  std::shared_ptr<const std::string> norms_;  // read by weight_
  std::string split_name_;
  ScorerErrors* errors_;
  std::vector<std::unique_ptr<BlockPostingIterator>> iterators_;  // in phrase order
  std::vector<PositionListReader> readers_;
  std::vector<size_t> order_;  // term indexes, rarest first
  std::vector<std::vector<uint32_t>> positions_;
  std::vector<std::span<const uint32_t>> spans_;
  uint32_t phrase_freq_ = 0;
  bool checked_ = false;    // Matches() ran on doc_
  bool confirmed_ = false;  // doc_ holds the phrase (phrase_freq_ is its frequency)
};

class DocSetScorer final : public DocScorer {
 public:
  explicit DocSetScorer(DocSet docs) : docs_(std::move(docs)), cost_(docs_.Count()) {
    doc_ = Map(docs_.NextDoc(0));
  }
  uint32_t Next() override {
    if (doc_ == kEnd) return kEnd;
    return doc_ = Map(docs_.NextDoc(doc_ + 1));
  }
  uint32_t SeekTo(uint32_t target) override {
    if (doc_ == kEnd || doc_ >= target) return doc_;
    return doc_ = Map(docs_.NextDoc(target));
  }
  float Score() override { return 0; }
  float MaxScore() const override { return 0; }
  uint64_t Cost() const override { return cost_; }

 private:
  uint32_t Map(uint32_t doc) const { return doc >= docs_.num_docs() ? kEnd : doc; }
  DocSet docs_;
  uint64_t cost_;
};

class BoostScorer final : public DocScorer {
 public:
  BoostScorer(std::unique_ptr<DocScorer> inner, float boost)
      : inner_(std::move(inner)), boost_(boost) {
    doc_ = inner_->doc();
  }
  uint32_t Next() override { return doc_ = inner_->Next(); }
  uint32_t SeekTo(uint32_t target) override { return doc_ = inner_->SeekTo(target); }
  uint32_t ApproxNext() override { return doc_ = inner_->ApproxNext(); }
  uint32_t ApproxSeekTo(uint32_t target) override { return doc_ = inner_->ApproxSeekTo(target); }
  bool Matches() override { return inner_->Matches(); }
  float Score() override { return inner_->Score() * boost_; }
  float MaxScore() const override { return inner_->MaxScore() * boost_; }
  uint64_t Cost() const override { return inner_->Cost(); }
  void SetMinCompetitiveScore(float threshold) override {
    if (boost_ > 0) inner_->SetMinCompetitiveScore(threshold / boost_ * (1 - 1e-4f));
  }

 private:
  std::unique_ptr<DocScorer> inner_;
  float boost_;
};

// Whether `doc` is in one of `excluded` (which only move forward).
bool Excluded(std::vector<std::unique_ptr<DocScorer>>& excluded, uint32_t doc) {
  for (auto& scorer : excluded) {
    if (scorer->ApproxSeekTo(doc) == doc && scorer->Matches()) return true;
  }
  return false;
}

class RequiredScorer final : public DocScorer {
 public:
  RequiredScorer(std::vector<ScoredClause> required,
                 std::vector<std::unique_ptr<DocScorer>> optional,
                 std::vector<std::unique_ptr<DocScorer>> excluded)
      : required_(std::move(required)),
        optional_(std::move(optional)),
        excluded_(std::move(excluded)) {
    order_.resize(required_.size());
    std::iota(order_.begin(), order_.end(), size_t{0});
    std::stable_sort(order_.begin(), order_.end(), [this](size_t a, size_t b) {
      return required_[a].scorer->Cost() < required_[b].scorer->Cost();
    });
    Settle(Lead().doc());
  }
  uint32_t Next() override {
    if (doc_ == kEnd) return kEnd;
    return Settle(Lead().ApproxNext());
  }
  uint32_t SeekTo(uint32_t target) override {
    if (doc_ == kEnd || doc_ >= target) return doc_;
    return Settle(Lead().ApproxSeekTo(target));
  }
  float Score() override {
    float score = 0;
    for (const ScoredClause& clause : required_) {
      if (clause.scored) score += clause.scorer->Score();
    }
    for (auto& scorer : optional_) {
      if (scorer->ApproxSeekTo(doc_) == doc_ && scorer->Matches()) score += scorer->Score();
    }
    return score;
  }
  float MaxScore() const override {
    float bound = 0;
    for (const ScoredClause& clause : required_) {
      if (clause.scored) bound += clause.scorer->MaxScore();
    }
    for (const auto& scorer : optional_) bound += scorer->MaxScore();
    return bound;
  }
  uint64_t Cost() const override { return required_[order_[0]].scorer->Cost(); }

 private:
  DocScorer& Lead() { return *required_[order_[0]].scorer; }

  // Moves to the first doc >= `candidate` (the lead's approximation doc) in every required
  // clause and no excluded one: approximations are aligned first, then each clause confirms the
  // doc (a phrase reads positions only for docs in every other clause's approximation).
  uint32_t Settle(uint32_t candidate) {
    while (candidate != kEnd) {
      bool in_all = true;
      for (size_t k = 1; k < order_.size(); ++k) {
        const uint32_t doc = required_[order_[k]].scorer->ApproxSeekTo(candidate);
        if (doc != candidate) {
          in_all = false;
          candidate = doc == kEnd ? kEnd : Lead().ApproxSeekTo(doc);
          break;
        }
      }
      if (!in_all) continue;
      bool matches = true;
      for (size_t k = 0; k < order_.size() && matches; ++k) {
        matches = required_[order_[k]].scorer->Matches();
      }
      if (matches && !Excluded(excluded_, candidate)) return doc_ = candidate;
      candidate = Lead().ApproxNext();
    }
    return doc_ = kEnd;
  }

  std::vector<ScoredClause> required_;  // in clause order
  std::vector<std::unique_ptr<DocScorer>> optional_;
  std::vector<std::unique_ptr<DocScorer>> excluded_;
  std::vector<size_t> order_;  // required clause indexes, cheapest first
};

// A union. Without a minimum competitive score every clause is "essential" and the union visits
// every doc of every clause. With one (MaxScore, Turtle and Flood 1995): the clauses of lowest
// bounds whose bounds add up below it are "non-essential": a doc only they hold cannot compete,
// so candidates come from the essential clauses alone and the others are only sought to score.
class UnionScorer final : public DocScorer {
 public:
  UnionScorer(std::vector<std::unique_ptr<DocScorer>> clauses,
               std::vector<std::unique_ptr<DocScorer>> excluded)
      : clauses_(std::move(clauses)), excluded_(std::move(excluded)) {
    by_bound_.resize(clauses_.size());
    std::iota(by_bound_.begin(), by_bound_.end(), size_t{0});
    std::stable_sort(by_bound_.begin(), by_bound_.end(), [this](size_t a, size_t b) {
      return clauses_[a].get()->MaxScore() < clauses_[b].get()->MaxScore();
    });
    bound_prefix_.assign(clauses_.size() + 1, 0.0);
    for (size_t i = 0; i < by_bound_.size(); ++i) {
      bound_prefix_[i + 1] =
          bound_prefix_[i] + static_cast<double>(clauses_[by_bound_[i]]->MaxScore());
    }
    essential_.assign(clauses_.size(), true);
    Settle();
  }
  uint32_t Next() override {
    if (doc_ == kEnd) return kEnd;
    AdvanceEssentialsAt(doc_);
    return Settle();
  }
  uint32_t SeekTo(uint32_t target) override {
    if (doc_ == kEnd || doc_ >= target) return doc_;
    for (size_t i = 0; i < clauses_.size(); ++i) {
      if (essential_[i]) clauses_[i]->SeekTo(target);
    }
    return Settle();
  }
  float Score() override {
    if (scored_doc_ != doc_) {
      score_ = ExactScore(doc_);
      scored_doc_ = doc_;
    }
    return score_;
  }
  float MaxScore() const override {
    float bound = 0;
    for (const auto& clause : clauses_) bound += clause->MaxScore();
    return bound;
  }
  uint64_t Cost() const override {
    uint64_t cost = 0;
    for (const auto& clause : clauses_) cost += clause->Cost();
    return cost;
  }
  void SetMinCompetitiveScore(float threshold) override {
    threshold_ = threshold;
    // The longest prefix (by bound) whose bounds add up below the threshold.
    while (num_non_essential_ < by_bound_.size() &&
           bound_prefix_[num_non_essential_ + 1] * (1 + kBoundMargin) < threshold_) {
      essential_[by_bound_[num_non_essential_]] = false;
      ++num_non_essential_;
    }
  }

 private:
  void AdvanceEssentialsAt(uint32_t doc) {
    for (size_t i = 0; i < clauses_.size(); ++i) {
      if (essential_[i] && clauses_[i]->doc() == doc) clauses_[i]->Next();
    }
  }

  // The sum of the scores of the clauses holding `doc`, in clause order (as the bitset
  // evaluation adds them). Non-essential clauses are sought to `doc`.
  float ExactScore(uint32_t doc) {
    float score = 0;
    for (auto& clause : clauses_) {
      if (clause->doc() < doc) clause->SeekTo(doc);
      if (clause->doc() == doc) score += clause->Score();
    }
    return score;
  }

  // Moves to the first candidate at or after the essential clauses' current docs.
  uint32_t Settle() {
    while (true) {
      uint32_t doc = kEnd;
      for (size_t i = 0; i < clauses_.size(); ++i) {
        if (essential_[i]) doc = std::min(doc, clauses_[i]->doc());
      }
      if (doc == kEnd) return doc_ = kEnd;
      if (!Excluded(excluded_, doc) && Competitive(doc)) return doc_ = doc;
      AdvanceEssentialsAt(doc);
    }
  }

  // Whether `doc` may score above the threshold: its essential clauses' scores plus the bounds
  // of the non-essential ones.
  bool Competitive(uint32_t doc) {
    if (num_non_essential_ == 0) return true;
    double partial = 0;
    for (size_t i = 0; i < clauses_.size(); ++i) {
      if (essential_[i] && clauses_[i]->doc() == doc) partial += clauses_[i]->Score();
    }
    return (partial + bound_prefix_[num_non_essential_]) * (1 + kBoundMargin) >= threshold_;
  }

  std::vector<std::unique_ptr<DocScorer>> clauses_;  // in clause order
  std::vector<std::unique_ptr<DocScorer>> excluded_;
  std::vector<size_t> by_bound_;       // clause indexes by increasing MaxScore()
  std::vector<double> bound_prefix_;   // bound_prefix_[i]: the bounds of by_bound_[0, i)
  std::vector<bool> essential_;        // per clause
  size_t num_non_essential_ = 0;       // the first ones of by_bound_
  float threshold_ = -std::numeric_limits<float>::infinity();
  uint32_t scored_doc_ = kEnd;
  float score_ = 0;
};

}  // namespace

Bm25Weight::Bm25Weight(float idf, const FieldEntry& field, const std::string* norms)
    : norms_(norms) {
  weight_ = idf * (kBm25K1 + 1.0f);
  const float average_length =
      field.field_doc_count > 0
          ? static_cast<float>(field.total_tokens) / static_cast<float>(field.field_doc_count)
          : 1.0f;
  for (uint32_t code = 0; code < 256; ++code) {
    const auto length = static_cast<float>(DecodeFieldNorm(static_cast<uint8_t>(code)));
    length_factor_[code] =
        kBm25K1 * (1.0f - kBm25B + kBm25B * length / std::max(average_length, 1e-6f));
  }
}

float Bm25Weight::Idf(uint64_t num_docs, uint64_t doc_freq) {
  const double n = static_cast<double>(num_docs);
  const double df = static_cast<double>(std::min(doc_freq, num_docs));
  return static_cast<float>(std::log(1.0 + (n - df + 0.5) / (df + 0.5)));
}

uint32_t CountPhraseMatches(const std::vector<std::span<const uint32_t>>& positions,
                            uint32_t slop) {
  uint32_t matches = 0;
  for (uint32_t start : positions[0]) {
    uint32_t previous = start;
    uint64_t budget = slop;
    bool matched = true;
    for (size_t i = 1; i < positions.size(); ++i) {
      auto it = std::upper_bound(positions[i].begin(), positions[i].end(), previous);
      if (it == positions[i].end()) return matches;  // later starts cannot match either
      const uint64_t gap = *it - previous - 1;
      if (gap > budget) {
        matched = false;
        break;
      }
      budget -= gap;
      previous = *it;
    }
    if (matched) ++matches;
  }
  return matches;
}

std::unique_ptr<DocScorer> NewEmptyScorer() { return std::make_unique<EmptyScorer>(); }

std::unique_ptr<DocScorer> NewTermScorer(std::string postings, uint64_t doc_freq,
                                         uint32_t num_docs, bool with_freqs,
                                         std::optional<Bm25Weight> weight,
                                         std::shared_ptr<const std::string> norms,
                                         uint64_t base_offset, std::string split_name,
                                         ScorerErrors* errors) {
  return std::make_unique<TermScorer>(std::move(postings), doc_freq, num_docs, with_freqs,
                                      std::move(weight), std::move(norms), base_offset,
                                      std::move(split_name), errors);
}

std::unique_ptr<DocScorer> NewPhraseScorer(std::vector<PhraseTerm> terms, uint32_t slop,
                                           uint32_t num_docs, std::optional<Bm25Weight> weight,
                                           std::shared_ptr<const std::string> norms,
                                           std::string split_name, ScorerErrors* errors) {
  return std::make_unique<PhraseScorer>(std::move(terms), slop, num_docs, std::move(weight),
                                        std::move(norms), std::move(split_name), errors);
}

std::unique_ptr<DocScorer> NewDocSetScorer(DocSet docs) {
  return std::make_unique<DocSetScorer>(std::move(docs));
}

std::unique_ptr<DocScorer> NewBoostScorer(std::unique_ptr<DocScorer> inner, float boost) {
  return std::make_unique<BoostScorer>(std::move(inner), boost);
}

std::unique_ptr<DocScorer> NewRequiredScorer(std::vector<ScoredClause> required,
                                             std::vector<std::unique_ptr<DocScorer>> optional,
                                             std::vector<std::unique_ptr<DocScorer>> excluded) {
  return std::make_unique<RequiredScorer>(std::move(required), std::move(optional),
                                          std::move(excluded));
}

std::unique_ptr<DocScorer> NewUnionScorer(std::vector<std::unique_ptr<DocScorer>> clauses,
                                          std::vector<std::unique_ptr<DocScorer>> excluded) {
  return std::make_unique<UnionScorer>(std::move(clauses), std::move(excluded));
}

}  // namespace shale::index::internal
