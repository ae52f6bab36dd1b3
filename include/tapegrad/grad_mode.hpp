#pragma once
// Recording on or off for the current thread, like torch.no_grad().

namespace tapegrad {

/// Whether ops on tensors that require gradients record graph nodes on this thread.
bool grad_enabled();

/// Turns recording off for its scope (evaluation, optimizer updates, finite differences).
class NoGrad {
public:
    NoGrad();
    ~NoGrad();
    NoGrad(const NoGrad&) = delete;
    NoGrad& operator=(const NoGrad&) = delete;

private:
    bool previous_;
};

} // namespace tapegrad
