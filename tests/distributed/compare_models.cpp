// compare_models A.npz B.npz RTOL: exit 0 when every float32 tensor of A matches B's with
// max |a - b| <= RTOL * max |b| over the tensor (a relative error per parameter tensor, as
// elements that are zero up to rounding have no relative error of their own); prints the
// worst tensor, and the largest elementwise relative difference for information.

#include "tapegrad/io/npz.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: compare_models A.npz B.npz RTOL\n");
        return 2;
    }
    using tapegrad::io::NamedArray;
    std::map<std::string, NamedArray> b;
    for (NamedArray& array : tapegrad::io::load_npz(argv[2])) b.emplace(array.name, array);
    const double rtol = std::atof(argv[3]);
    double worst = 0, worst_element = 0;
    std::string worst_name = "(none)";
    std::size_t compared = 0;
    for (const NamedArray& a : tapegrad::io::load_npz(argv[1])) {
        if (a.dtype() != tapegrad::io::DType::float32) continue;
        const auto other = b.find(a.name);
        if (other == b.end() || other->second.shape != a.shape) {
            std::printf("entry %s: missing or of another shape in %s\n", a.name.c_str(), argv[2]);
            return 1;
        }
        const auto& x = a.as_float32();
        const auto& y = other->second.as_float32();
        double largest = 0, difference = 0;
        for (std::size_t i = 0; i < x.size(); ++i) {
            const double d = std::fabs(double(x[i]) - double(y[i]));
            largest = std::max(largest, std::fabs(double(y[i])));
            difference = std::max(difference, d);
            if (y[i] != 0) worst_element = std::max(worst_element, d / std::fabs(double(y[i])));
        }
        const double relative = largest > 0 ? difference / largest : difference;
        if (!(relative <= worst)) worst = relative, worst_name = a.name;
        ++compared;
    }
    std::printf("%zu float32 tensors compared; largest relative difference %.3g (in %s); "
                "largest elementwise %.3g\n",
                compared, worst, worst_name.c_str(), worst_element);
    return compared > 0 && worst <= rtol ? 0 : 1;
}
