#pragma once
// The exceptions tapegrad throws. Every message names the operation and the shapes or
// values involved; docs/errors.md lists each one.

#include <stdexcept>
#include <string>

namespace tapegrad {

/// Base of every exception tapegrad throws.
class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// Operand shapes that an op cannot combine (broadcasting, matmul, reshape, seeds).
class ShapeError : public Error {
public:
    using Error::Error;
};

/// An index out of range: an axis, a class label, an element.
class IndexError : public Error {
public:
    using Error::Error;
};

/// A value an op cannot take: a wrong option, an empty tensor where one element is needed.
class ValueError : public Error {
public:
    using Error::Error;
};

/// Misuse of the graph: backward without a seed, through released buffers, gradcheck on
/// a function that was not recorded.
class GraphError : public Error {
public:
    using Error::Error;
};

/// A NaN or infinity found by anomaly detection (DetectAnomaly): names the op, its position
/// on the tape, its input shapes and the element.
class NonFiniteError : public Error {
public:
    using Error::Error;
};

/// A file that is missing, truncated, corrupt, or does not match what it is loaded into.
class FormatError : public Error {
public:
    using Error::Error;
};

} // namespace tapegrad
