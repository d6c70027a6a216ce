// Integer-cent arithmetic. Rounding is half-up (0.5 cent rounds away from zero for the
// non-negative amounts the shop deals in), applied where a fraction of a cent appears.
#pragma once

#include <cstdint>

namespace brook::shop {

// value * num / den rounded half-up. Requires value >= 0, num >= 0, den > 0; throws brook::Error
// on a negative argument or overflow rather than returning a wrong amount.
std::int64_t mul_div_half_up(std::int64_t value, std::int64_t num, std::int64_t den);

// a * b, throwing brook::Error on overflow.
std::int64_t checked_mul(std::int64_t a, std::int64_t b);
// a + b, throwing brook::Error on overflow.
std::int64_t checked_add(std::int64_t a, std::int64_t b);

}  // namespace brook::shop
