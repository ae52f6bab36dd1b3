#pragma once
// Images and labels as plain float arrays, normalisation, and seeded mini-batches.

#include "tapegrad/data/idx.hpp"

#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace tapegrad::data {

/// `count` images of `features` pixels each, row-major, with one class label each.
struct LabeledImages {
    std::size_t count = 0, features = 0;
    std::vector<float> pixels; // count x features
    std::vector<std::int64_t> labels;
};

/// Pixels scaled to [0, 1]. Throws FormatError when the counts disagree or a label is not
/// below `classes`.
LabeledImages to_labeled_images(const IdxArray& images, const IdxArray& labels,
                                std::size_t classes);

/// The first `count` examples (all when count is 0 or larger than the set).
LabeledImages take_first(const LabeledImages& set, std::size_t count);

struct Normalization {
    float mean = 0, std = 1;
};
/// Mean and standard deviation of all pixels of `set`.
Normalization fit_normalization(const LabeledImages& set);
/// (x - mean) / std for every pixel.
void normalize(LabeledImages& set, Normalization normalization);

struct Batch {
    std::size_t rows = 0, features = 0;
    std::vector<float> inputs; // rows x features
    std::vector<std::int64_t> labels;
};

/// Mini-batches over a set, in a fresh seeded permutation each epoch when shuffling. The
/// last batch of an epoch may be smaller.
class BatchLoader {
public:
    BatchLoader(const LabeledImages& set, std::size_t batch_size, bool shuffle, std::uint64_t seed);
    std::size_t batches_per_epoch() const;
    /// Starts an epoch: reshuffles (when shuffling) and rewinds.
    void start_epoch();
    /// Fills `batch` with the next mini-batch of the epoch; false when the epoch is over.
    bool next(Batch& batch);

private:
    const LabeledImages& set_;
    std::size_t batch_size_;
    bool shuffle_;
    std::mt19937_64 rng_;
    std::vector<std::size_t> order_;
    std::size_t position_ = 0;
};

} // namespace tapegrad::data
