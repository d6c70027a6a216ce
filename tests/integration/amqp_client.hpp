// Test support for the RabbitMQ bridges' tests: an AMQP client of the test's own (librabbitmq,
// through the bridges' Connection) that declares, publishes with confirms and drains queues.
#pragma once

#include <gtest/gtest.h>
#include <sys/time.h>

#include <msgpack.hpp>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "../nodes/test_msg.hpp"
#include "amqp_connection.hpp"

namespace brook::test {

namespace amqp = brook::amqp;

// A test's own AMQP client: publishes with confirms, reads a queue.
class Client {
 public:
  explicit Client(const std::string& url) {
    conn_.open(amqp::parse_url(url), std::chrono::milliseconds(5000));
  }

  void declare_queue(const std::string& queue) {
    amqp_queue_declare(conn_.state(), amqp::kChannel, amqp::bytes_of(queue), 0, 1, 0, 0,
                       amqp_empty_table);
    amqp::Connection::check(amqp_get_rpc_reply(conn_.state()), "queue.declare");
  }

  // Ready messages in `queue` (not those delivered and unacknowledged).
  std::uint32_t depth(const std::string& queue) {
    const auto* ok = amqp_queue_declare(conn_.state(), amqp::kChannel, amqp::bytes_of(queue), 1, 0,
                                        0, 0, amqp_empty_table);
    amqp::Connection::check(amqp_get_rpc_reply(conn_.state()), "queue.declare passive");
    return ok->message_count;
  }

  // Publishes TestMsg 1..n (persistent, msgpack) to `queue` and waits for every confirm.
  void publish(const std::string& queue, std::uint64_t n) {
    conn_.confirm_select();
    amqp::Properties p;
    p.type = "brook.test.Msg";
    p.content_type = "application/msgpack";
    p.persistent = true;
    std::set<std::uint64_t> confirmed;
    std::uint64_t upto = 0;
    for (std::uint64_t i = 1; i <= n; ++i) {
      TestMsg m{i, "amqp", "x"};
      msgpack::sbuffer buf;
      msgpack::pack(buf, m);
      p.message_id = "test/" + std::to_string(i);
      p.headers = {{"brook-key", "k" + std::to_string(i % 8)}};
      const amqp::AmqpProperties props(p);
      const amqp_bytes_t body{buf.size(), buf.data()};
      ASSERT_EQ(amqp_basic_publish(conn_.state(), amqp::kChannel, amqp_empty_bytes,
                                   amqp::bytes_of(queue), 0, 0, props.get(), body),
                AMQP_STATUS_OK);
    }
    while (upto + confirmed.size() < n) {
      amqp_frame_t f;
      timeval tv{10, 0};
      ASSERT_EQ(amqp_simple_wait_frame_noblock(conn_.state(), &f, &tv), AMQP_STATUS_OK);
      if (f.frame_type != AMQP_FRAME_METHOD) continue;
      ASSERT_NE(f.payload.method.id, AMQP_BASIC_NACK_METHOD) << "the broker refused a publish";
      if (f.payload.method.id != AMQP_BASIC_ACK_METHOD) continue;
      const auto* a = static_cast<const amqp_basic_ack_t*>(f.payload.method.decoded);
      if (a->multiple) {
        upto = std::max<std::uint64_t>(upto, a->delivery_tag);
        confirmed.erase(confirmed.begin(), confirmed.upper_bound(upto));
      } else if (a->delivery_tag > upto) {
        confirmed.insert(a->delivery_tag);
      }
    }
  }

  // Takes every ready message of `queue`: the body as msgpack, and the AMQP properties.
  std::vector<std::pair<msgpack::object_handle, amqp::Properties>> drain(const std::string& queue) {
    std::vector<std::pair<msgpack::object_handle, amqp::Properties>> out;
    while (true) {
      const amqp_rpc_reply_t r =
          amqp_basic_get(conn_.state(), amqp::kChannel, amqp::bytes_of(queue), 1);
      amqp::Connection::check(r, "basic.get");
      if (r.reply.id == AMQP_BASIC_GET_EMPTY_METHOD) return out;
      amqp_message_t message;
      amqp::Connection::check(amqp_read_message(conn_.state(), amqp::kChannel, &message, 0),
                              "reading a message");
      auto h = msgpack::unpack(static_cast<const char*>(message.body.bytes), message.body.len);
      out.emplace_back(std::move(h), amqp::properties_of(message.properties));
      amqp_destroy_message(&message);
    }
  }

 private:
  amqp::Connection conn_;
};

}  // namespace brook::test
