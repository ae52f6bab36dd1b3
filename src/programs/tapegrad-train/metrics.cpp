#include "metrics.hpp"

#include "tapegrad/errors.hpp"

#include <fmt/format.h>
#include <fmt/os.h>

namespace tapegrad::train {

void write_metrics_csv(const std::string& path, const History& history) {
    try {
        auto file = fmt::output_file(path);
        file.print("epoch,train_loss,train_accuracy,test_loss,test_accuracy,seconds\n");
        for (const EpochMetrics& m : history) {
            file.print("{},{:.6f},{:.6f},{:.6f},{:.6f},{:.3f}\n", m.epoch, m.train_loss,
                       m.train_accuracy, m.test_loss, m.test_accuracy, m.seconds);
        }
    } catch (const std::system_error& error) {
        throw FormatError(
            fmt::format("write_metrics_csv: cannot write {}: {}", path, error.what()));
    }
}

} // namespace tapegrad::train
