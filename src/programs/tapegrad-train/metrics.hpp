#pragma once
// What one epoch of training measured, and the CSV file that records it.

#include <string>
#include <vector>

namespace tapegrad::train {

struct EpochMetrics {
    int epoch = 0; // 1-based
    double train_loss = 0;
    double train_accuracy = 0; // fraction in [0, 1]
    double test_loss = 0;
    double test_accuracy = 0;
    double seconds = 0; // wall time of the epoch's training and evaluation
};

using History = std::vector<EpochMetrics>;

/// Writes `history` as CSV, one row per epoch; throws FormatError if the file cannot be written.
void write_metrics_csv(const std::string& path, const History& history);

} // namespace tapegrad::train
