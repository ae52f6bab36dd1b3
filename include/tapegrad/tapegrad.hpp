#pragma once
// Everything a program needs to build graphs, differentiate them and check the gradients.

#include "tapegrad/backend.hpp"
#include "tapegrad/dot.hpp"
#include "tapegrad/errors.hpp"
#include "tapegrad/factories.hpp"
#include "tapegrad/grad.hpp"
#include "tapegrad/grad_mode.hpp"
#include "tapegrad/gradcheck.hpp"
#include "tapegrad/ops.hpp"
#include "tapegrad/tensor.hpp"
