// Images as float rows, normalisation and seeded mini-batches.

#include "error_message.hpp"
#include "tapegrad/data/loader.hpp"
#include "tapegrad/errors.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace tapegrad::data {
namespace {

/// `count` 2x2 images whose pixels all equal their index, labelled index % 3.
LabeledImages numbered_images(std::size_t count) {
    IdxArray images{{count, 2, 2}, {}}, labels{{count}, {}};
    for (std::size_t i = 0; i < count; ++i) {
        for (int p = 0; p < 4; ++p) images.values.push_back(std::uint8_t(i));
        labels.values.push_back(std::uint8_t(i % 3));
    }
    return to_labeled_images(images, labels, 3);
}

/// The example indices of one epoch, in batch order, recovered from the pixel values.
std::vector<std::size_t> epoch_order(BatchLoader& loader, std::uint64_t epoch = 0,
                                     std::vector<std::size_t>* batch_rows = nullptr) {
    std::vector<std::size_t> order;
    Batch batch;
    loader.start_epoch(epoch);
    while (loader.next(batch)) {
        if (batch_rows) batch_rows->push_back(batch.rows);
        for (std::size_t r = 0; r < batch.rows; ++r) {
            const auto index = std::size_t(std::lround(batch.inputs[r * batch.features] * 255.0f));
            EXPECT_EQ(batch.labels[r], std::int64_t(index % 3));
            order.push_back(index);
        }
    }
    return order;
}

TEST(Loader, PixelsStayBytesAndRowsAreScaledToTheUnitInterval) {
    const LabeledImages set = numbered_images(4);
    EXPECT_EQ(set.count, 4u);
    EXPECT_EQ(set.features, 4u);
    EXPECT_EQ(set.pixels.size(), 16u);
    EXPECT_EQ(set.pixels[3 * 4], 3);
    EXPECT_FLOAT_EQ(set.rows(3, 1)[0], 3.0f / 255.0f);
    EXPECT_EQ(set.rows(1, 2).size(), 8u);
}

TEST(Loader, EveryExampleOnceAnEpochInASeededOrder) {
    const LabeledImages set = numbered_images(10);
    BatchLoader a(set, 4, true, 7), b(set, 4, true, 7);
    std::vector<std::size_t> rows;
    const auto first = epoch_order(a, 0, &rows);
    EXPECT_EQ(rows, (std::vector<std::size_t>{4, 4, 2})); // the last batch is smaller
    EXPECT_EQ(a.batches_per_epoch(), 3u);
    std::vector<std::size_t> sorted = first;
    std::sort(sorted.begin(), sorted.end());
    std::vector<std::size_t> all(10);
    std::iota(all.begin(), all.end(), std::size_t{0});
    EXPECT_EQ(sorted, all);
    EXPECT_EQ(epoch_order(b), first);                // same seed, same order
    EXPECT_NE(epoch_order(a, 1), first);             // a new permutation each epoch
    EXPECT_EQ(epoch_order(b, 1), epoch_order(a, 1)); // drawn from (seed, epoch) alone
    EXPECT_EQ(epoch_order(a, 0), first);
    BatchLoader in_order(set, 4, false, 7);
    EXPECT_EQ(epoch_order(in_order), all); // no shuffling: file order
}

TEST(Loader, NormalisationGivesZeroMeanUnitStdToTheRowsAndBatches) {
    LabeledImages set = numbered_images(50);
    set.normalization = fit_normalization(set);
    const std::vector<float> rows = set.rows(0, set.count);
    const double n = double(rows.size());
    const double mean = std::accumulate(rows.begin(), rows.end(), 0.0) / n;
    double squares = 0;
    for (float v : rows) squares += (v - mean) * (v - mean);
    EXPECT_NEAR(mean, 0.0, 1e-6);
    EXPECT_NEAR(std::sqrt(squares / n), 1.0, 1e-5);
    BatchLoader loader(set, 50, false, 0);
    Batch batch;
    loader.start_epoch(0);
    ASSERT_TRUE(loader.next(batch));
    EXPECT_EQ(batch.inputs, rows);
}

TEST(Loader, ShardsSplitEveryStepIntoDisjointContiguousShares) {
    const LabeledImages set = numbered_images(11);
    BatchLoader whole(set, 4, true, 3);
    const std::vector<std::size_t> order = epoch_order(whole, 2);
    // Two shards of per-shard batch 2 walk the same steps of 4 as one loader of batch 4;
    // the last step of 3 rows splits 1 + 2.
    BatchLoader first(set, 2, true, 3, {0, 2}), second(set, 2, true, 3, {1, 2});
    EXPECT_EQ(first.batches_per_epoch(), 3u);
    std::vector<std::size_t> first_rows, second_rows;
    const std::vector<std::size_t> a = epoch_order(first, 2, &first_rows);
    const std::vector<std::size_t> b = epoch_order(second, 2, &second_rows);
    EXPECT_EQ(first_rows, (std::vector<std::size_t>{2, 2, 1}));
    EXPECT_EQ(second_rows, (std::vector<std::size_t>{2, 2, 2}));
    std::vector<std::size_t> interleaved;
    for (std::size_t step = 0, i = 0, j = 0; step < 3; ++step) {
        for (std::size_t r = 0; r < first_rows[step]; ++r) interleaved.push_back(a[i++]);
        for (std::size_t r = 0; r < second_rows[step]; ++r) interleaved.push_back(b[j++]);
    }
    EXPECT_EQ(interleaved, order);
    // One row in the last step: a shard may get none of it, and says how big the step is.
    const LabeledImages nine = numbered_images(9);
    BatchLoader empty_share(nine, 4, false, 0, {0, 2});
    Batch batch;
    empty_share.start_epoch(0);
    while (empty_share.next(batch)) {}
    EXPECT_EQ(batch.rows, 0u);
    EXPECT_EQ(batch.step_rows, 1u);
}

TEST(Loader, KeepFirst) {
    LabeledImages set = numbered_images(10);
    keep_first(set, 3);
    EXPECT_EQ(set.count, 3u);
    EXPECT_EQ(set.pixels.size(), 12u);
    EXPECT_EQ(set.labels, (std::vector<std::int64_t>{0, 1, 2}));
    LabeledImages all = numbered_images(10);
    keep_first(all, 0);
    EXPECT_EQ(all.count, 10u);
}

TEST(Loader, ErrorsNameTheProblem) {
    const auto message = [](auto&& f) { return testing::message_of<Error>(f); };
    IdxArray images{{3, 1, 1}, {0, 1, 2}}, labels{{2}, {0, 1}};
    EXPECT_EQ(message([&] { to_labeled_images(images, labels, 10); }),
              "to_labeled_images: 3 images but 2 labels");
    labels = {{3}, {0, 12, 1}};
    EXPECT_EQ(message([&] { to_labeled_images(images, labels, 10); }),
              "to_labeled_images: label 12 of example 1 is not below 10 classes");
    const LabeledImages set = numbered_images(2);
    EXPECT_EQ(message([&] { BatchLoader(set, 0, false, 0); }),
              "BatchLoader: batch size must be positive");
    EXPECT_EQ(message([&] {
                  BatchLoader(set, 1, false, 0, {2, 2});
              }),
              "BatchLoader: shard 2 of 2 does not exist");
}

} // namespace
} // namespace tapegrad::data
