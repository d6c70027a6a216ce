#include <zmq.h>

#include <brook/error.hpp>

namespace brook {

ZmqError::ZmqError(int err, const std::string& what_failed)
    : Error(what_failed + ": " + zmq_strerror(err)), code_(err) {}

}  // namespace brook
