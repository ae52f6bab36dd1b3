#include "tapegrad/data/loader.hpp"

#include "tapegrad/errors.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

namespace tapegrad::data {

LabeledImages to_labeled_images(IdxArray images, const IdxArray& labels, std::size_t classes) {
    if (labels.shape.size() != 1) {
        throw FormatError(fmt::format("to_labeled_images: labels must have rank 1, got rank {}",
                                      labels.shape.size()));
    }
    const std::size_t image_count = images.shape.empty() ? 0 : images.shape[0];
    if (image_count != labels.shape[0]) {
        throw FormatError(fmt::format("to_labeled_images: {} images but {} labels", image_count,
                                      labels.shape[0]));
    }
    LabeledImages set;
    set.count = image_count;
    set.features = set.count ? images.values.size() / set.count : 0;
    set.pixels = std::move(images.values);
    set.labels.resize(set.count);
    for (std::size_t i = 0; i < set.count; ++i) {
        if (labels.values[i] >= classes) {
            throw FormatError(
                fmt::format("to_labeled_images: label {} of example {} is not below {} classes",
                            labels.values[i], i, classes));
        }
        set.labels[i] = labels.values[i];
    }
    return set;
}

namespace {
/// (byte / 255 - mean) / std for `count` bytes.
void normalized(const std::uint8_t* bytes, std::size_t count, const Normalization& n, float* out) {
    const float scale = 1.0f / (255.0f * n.std), shift = n.mean / n.std;
    for (std::size_t i = 0; i < count; ++i) out[i] = float(bytes[i]) * scale - shift;
}
} // namespace

std::vector<float> LabeledImages::rows(std::size_t first, std::size_t rows) const {
    std::vector<float> values(rows * features);
    normalized(pixels.data() + first * features, values.size(), normalization, values.data());
    return values;
}

void keep_first(LabeledImages& set, std::size_t count) {
    if (count == 0 || count >= set.count) return;
    set.count = count;
    set.pixels.resize(count * set.features);
    set.labels.resize(count);
}

Normalization fit_normalization(const LabeledImages& set) {
    if (set.pixels.empty()) return {};
    double sum = 0, sum_of_squares = 0;
    for (std::uint8_t byte : set.pixels) {
        const double v = byte / 255.0;
        sum += v, sum_of_squares += v * v;
    }
    const double n = static_cast<double>(set.pixels.size());
    const double mean = sum / n;
    const double variance = std::max(sum_of_squares / n - mean * mean, 1e-12);
    return {static_cast<float>(mean), static_cast<float>(std::sqrt(variance))};
}

BatchLoader::BatchLoader(const LabeledImages& set, std::size_t batch_size, bool shuffle,
                         std::uint64_t seed, Shard shard)
    : set_(set), batch_size_(batch_size), shuffle_(shuffle), seed_(seed), shard_(shard),
      order_(set.count) {
    if (batch_size == 0) throw ValueError("BatchLoader: batch size must be positive");
    if (shard.count == 0 || shard.index >= shard.count) {
        throw ValueError(
            fmt::format("BatchLoader: shard {} of {} does not exist", shard.index, shard.count));
    }
}

std::size_t BatchLoader::batches_per_epoch() const {
    const std::size_t step = batch_size_ * shard_.count;
    return (set_.count + step - 1) / step;
}

void BatchLoader::start_epoch(std::uint64_t epoch) {
    std::iota(order_.begin(), order_.end(), std::size_t{0});
    if (shuffle_) {
        std::seed_seq seeds{std::uint32_t(seed_), std::uint32_t(seed_ >> 32), std::uint32_t(epoch),
                            std::uint32_t(epoch >> 32)};
        std::mt19937_64 rng(seeds);
        // Fisher-Yates with our own index draw: std::shuffle's use of the engine is not
        // specified, so it could differ between standard libraries.
        for (std::size_t i = order_.size(); i > 1; --i) std::swap(order_[i - 1], order_[rng() % i]);
    }
    position_ = 0;
}

bool BatchLoader::next(Batch& batch) {
    if (position_ >= set_.count) return false;
    const std::size_t step_rows = std::min(batch_size_ * shard_.count, set_.count - position_);
    const std::size_t first = position_ + step_rows * shard_.index / shard_.count;
    const std::size_t rows = position_ + step_rows * (shard_.index + 1) / shard_.count - first;
    batch.rows = rows;
    batch.step_rows = step_rows;
    batch.features = set_.features;
    batch.inputs.resize(rows * set_.features);
    batch.labels.resize(rows);
    for (std::size_t r = 0; r < rows; ++r) {
        const std::size_t example = order_[first + r];
        normalized(set_.pixels.data() + example * set_.features, set_.features, set_.normalization,
                   batch.inputs.data() + r * set_.features);
        batch.labels[r] = set_.labels[example];
    }
    position_ += step_rows;
    return true;
}

} // namespace tapegrad::data
