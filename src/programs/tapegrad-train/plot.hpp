#pragma once
// Training curves (loss and accuracy per epoch) as an SVG image.

#include "metrics.hpp"

#include <string>

namespace tapegrad::train {

/// Writes an SVG image with two side-by-side panels: left "loss" (train and test loss vs epoch),
/// right "accuracy" (train and test accuracy vs epoch, in percent). Throws std::runtime_error
/// naming the path if the file cannot be written.
void write_training_plot(const std::string& path, const History& history, const std::string& title);

/// The same SVG document as a string. Non-finite values (a diverged loss) are left out of the
/// curves; an empty history gives empty panels.
std::string training_plot_svg(const History& history, const std::string& title);

} // namespace tapegrad::train
