#include "money.hpp"

#include <brook/error.hpp>
#include <string>

namespace brook::shop {

std::int64_t checked_mul(std::int64_t a, std::int64_t b) {
  std::int64_t r = 0;
  if (__builtin_mul_overflow(a, b, &r)) {
    throw Error("amount overflow: " + std::to_string(a) + " * " + std::to_string(b));
  }
  return r;
}

std::int64_t checked_add(std::int64_t a, std::int64_t b) {
  std::int64_t r = 0;
  if (__builtin_add_overflow(a, b, &r)) {
    throw Error("amount overflow: " + std::to_string(a) + " + " + std::to_string(b));
  }
  return r;
}

std::int64_t mul_div_half_up(std::int64_t value, std::int64_t num, std::int64_t den) {
  if (value < 0 || num < 0 || den <= 0) {
    throw Error("mul_div_half_up: bad arguments " + std::to_string(value) + ", " +
                std::to_string(num) + ", " + std::to_string(den));
  }
  // Split value into quotient and remainder by den first so the product stays in range for any
  // realistic amount, then round the remaining fraction half-up.
  const std::int64_t whole = checked_mul(value / den, num);
  const std::int64_t frac = checked_mul(value % den, num);
  const std::int64_t rounded = frac / den + ((frac % den) * 2 >= den ? 1 : 0);
  return checked_add(whole, rounded);
}

}  // namespace brook::shop
