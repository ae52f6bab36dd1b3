#pragma once
// Images and labels, normalisation, and seeded mini-batches. The pixels stay bytes, as the
// files hold them; a batch turns its rows into normalised floats when it is made, so a
// dataset costs one byte per pixel.

#include "tapegrad/data/idx.hpp"

#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace tapegrad::data {

/// A pixel's value as a float: x = byte / 255, then (x - mean) / std.
struct Normalization {
    float mean = 0, std = 1;
};

/// `count` images of `features` pixels each, row-major, with one class label each.
struct LabeledImages {
    std::size_t count = 0, features = 0;
    std::vector<std::uint8_t> pixels; // count x features, as read
    std::vector<std::int64_t> labels;
    Normalization normalization; // applied to the rows that batches read

    /// Rows [first, first + rows) as normalised floats, row-major.
    std::vector<float> rows(std::size_t first, std::size_t rows) const;
};

/// Takes over the image bytes. Throws FormatError when the counts disagree or a label is not
/// below `classes`.
LabeledImages to_labeled_images(IdxArray images, const IdxArray& labels, std::size_t classes);

/// Keeps the first `count` examples (all when count is 0 or larger than the set).
void keep_first(LabeledImages& set, std::size_t count);

/// Mean and standard deviation of all pixels of `set`, as floats in [0, 1].
Normalization fit_normalization(const LabeledImages& set);

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
