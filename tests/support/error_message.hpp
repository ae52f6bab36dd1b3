#pragma once
// Catching an expected exception and keeping its message for assertions.

#include <gtest/gtest.h>

#include <exception>
#include <string>

namespace tapegrad::testing {

/// Runs `action`, which must throw E, and returns the message; anything else is a failure.
template <class E, class F> std::string message_of(F&& action) {
    try {
        action();
    } catch (const E& error) {
        return error.what();
    } catch (const std::exception& other) {
        ADD_FAILURE() << "threw another type: " << other.what();
        return {};
    }
    ADD_FAILURE() << "did not throw";
    return {};
}

} // namespace tapegrad::testing
