#include "metrics.hpp"

#include "files.hpp"

#include <fmt/format.h>

namespace tapegrad::train {

void write_metrics_csv(const std::string& path, const History& history) {
    std::string csv = "epoch,train_loss,train_accuracy,test_loss,test_accuracy,seconds\n";
    for (const EpochMetrics& m : history) {
        csv += fmt::format("{},{:.6f},{:.6f},{:.6f},{:.6f},{:.3f}\n", m.epoch, m.train_loss,
                           m.train_accuracy, m.test_loss, m.test_accuracy, m.seconds);
    }
    write_file(path, csv);
}

} // namespace tapegrad::train
