// The message of the exception a call throws, for tests that pin error texts.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <string>

namespace brook::test {

// What `f` throws as an E; a test failure (and "") when it throws nothing.
template <class E>
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  ADD_FAILURE() << "no exception thrown";
  return {};
}

}  // namespace brook::test
