// Error types thrown by brook. Every brook exception derives from brook::Error, so a caller can
// catch the family; the subclasses carry what a program needs to react (errno, diagnostics).
// Bad input from the network (a malformed frame) is never thrown at a caller: decoders return a
// DecodeStatus (envelope_codec.hpp) and the runtime counts and logs it. A full queue is thrown
// by emit() as BackpressureError only when the channel's on_full policy says so (block timed out,
// or fail); with drop it is counted instead.
#pragma once

#include <stdexcept>
#include <string>

namespace brook {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A ZeroMQ call failed for a reason other than "would block". Carries errno and the libzmq text.
class ZmqError : public Error {
 public:
  ZmqError(int err, const std::string& what_failed);
  int code() const noexcept { return code_; }

 private:
  int code_;
};

// Bad command line, bad option value: the message says which option and what is expected.
class UsageError : public Error {
 public:
  using Error::Error;
};

// Configuration that is well-formed but unusable at run time (a handler missing for an input
// port, a port that the topology does not declare).
class ConfigError : public Error {
 public:
  using Error::Error;
};

// emit() could not queue a message: the channel's pending queue stayed full for the channel's
// block timeout (policy `block`), or was full at once (policy `fail`), or a durable output's
// journal found no room on its disk. Trying again later may succeed. Escaping a handler, it
// declines the message being handled (see Declined).
class BackpressureError : public Error {
 public:
  using Error::Error;
};

// Thrown by a handler that cannot take a message now (its store is full, a resource it needs is
// down): on an at-least-once input the message is neither acknowledged nor remembered as
// handled, so its producer keeps it and re-sends it after the channel's ack_timeout (counted in
// `declined`). A retry attempt that declines, or a best-effort input (which cannot give a
// message back), counts it as a failed attempt: the channel's retry policy and dead_letter apply.
class Declined : public Error {
 public:
  using Error::Error;
};

// emit() refused a message larger than the channel's max_message_size.
class MessageTooLarge : public Error {
 public:
  using Error::Error;
};

}  // namespace brook
