#include "amqp_connection.hpp"

#include <sys/time.h>

namespace brook::amqp {
namespace {

timeval timeval_of(std::chrono::milliseconds d) {
  return timeval{static_cast<time_t>(d.count() / 1000),
                 static_cast<suseconds_t>((d.count() % 1000) * 1000)};
}

}  // namespace

void Connection::check(amqp_rpc_reply_t r, const char* what) {
  switch (r.reply_type) {
    case AMQP_RESPONSE_NORMAL:
      return;
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
      throw AmqpError(std::string(what) + ": " + amqp_error_string2(r.library_error));
    case AMQP_RESPONSE_SERVER_EXCEPTION:
      if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        const auto* m = static_cast<const amqp_channel_close_t*>(r.reply.decoded);
        throw AmqpError(std::string(what) +
                        ": the broker closed the channel: " + string_of(m->reply_text));
      }
      if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
        const auto* m = static_cast<const amqp_connection_close_t*>(r.reply.decoded);
        throw AmqpError(std::string(what) +
                        ": the broker closed the connection: " + string_of(m->reply_text));
      }
      throw AmqpError(std::string(what) + ": the broker refused");
    default:
      throw AmqpError(std::string(what) + ": no reply");
  }
}

void Connection::open(const Url& url, std::chrono::milliseconds timeout) {
  close();
  state_ = amqp_new_connection();
  amqp_socket_t* socket = amqp_tcp_socket_new(state_);
  if (socket == nullptr) throw AmqpError("cannot create a socket");
  timeval tv = timeval_of(timeout);
  if (const int rc = amqp_socket_open_noblock(socket, url.host.c_str(), url.port, &tv);
      rc != AMQP_STATUS_OK) {
    throw AmqpError(std::string("cannot connect: ") + amqp_error_string2(rc));
  }
  amqp_set_rpc_timeout(state_, &tv);
  // No heartbeats: the loop has no timer for them, and a broker that dies on this host closes
  // the TCP connection, which the watched socket reports.
  check(amqp_login(state_, url.vhost.c_str(), 0, AMQP_DEFAULT_FRAME_SIZE, 0, AMQP_SASL_METHOD_PLAIN,
                   url.user.c_str(), url.password.c_str()),
        "login");
  amqp_channel_open(state_, kChannel);
  check(amqp_get_rpc_reply(state_), "channel.open");
}

void Connection::declare(const Settings& s) {
  if (!s.exchange.empty() && !s.exchange_type.empty()) {
    amqp_exchange_declare(state_, kChannel, bytes_of(s.exchange), bytes_of(s.exchange_type), 0, 1,
                          0, 0, amqp_empty_table);
    check(amqp_get_rpc_reply(state_), "exchange.declare");
  }
  if (s.queue.empty()) return;
  amqp_queue_declare(state_, kChannel, bytes_of(s.queue), 0, s.durable ? 1 : 0, 0, 0,
                     amqp_empty_table);
  check(amqp_get_rpc_reply(state_), "queue.declare");
  if (s.exchange.empty()) return;
  const std::string key = s.routing_key ? *s.routing_key : "#";
  amqp_queue_bind(state_, kChannel, bytes_of(s.queue), bytes_of(s.exchange), bytes_of(key),
                  amqp_empty_table);
  check(amqp_get_rpc_reply(state_), "queue.bind");
}

void Connection::confirm_select() {
  amqp_confirm_select(state_, kChannel);
  check(amqp_get_rpc_reply(state_), "confirm.select");
}

void Connection::qos(std::uint16_t prefetch) {
  amqp_basic_qos(state_, kChannel, 0, prefetch, 0);
  check(amqp_get_rpc_reply(state_), "basic.qos");
}

void Connection::consume(const std::string& queue) {
  amqp_basic_consume(state_, kChannel, bytes_of(queue), amqp_empty_bytes, 0, 0, 0,
                     amqp_empty_table);
  check(amqp_get_rpc_reply(state_), "basic.consume");
}

void Connection::close() noexcept {
  if (state_ == nullptr) return;
  amqp_destroy_connection(state_);
  state_ = nullptr;
}

int Connection::fd() const noexcept {
  return state_ == nullptr ? -1 : amqp_get_sockfd(state_);
}

Properties properties_of(const amqp_basic_properties_t& p) {
  Properties out;
  if (p._flags & AMQP_BASIC_MESSAGE_ID_FLAG) out.message_id = string_of(p.message_id);
  if (p._flags & AMQP_BASIC_TYPE_FLAG) out.type = string_of(p.type);
  if (p._flags & AMQP_BASIC_CONTENT_TYPE_FLAG) out.content_type = string_of(p.content_type);
  if (p._flags & AMQP_BASIC_DELIVERY_MODE_FLAG) out.persistent = p.delivery_mode == 2;
  if (p._flags & AMQP_BASIC_HEADERS_FLAG) {
    for (int i = 0; i < p.headers.num_entries; ++i) {
      const amqp_table_entry_t& e = p.headers.entries[i];
      if (e.value.kind == AMQP_FIELD_KIND_UTF8 || e.value.kind == AMQP_FIELD_KIND_BYTES) {
        out.headers.emplace_back(string_of(e.key), string_of(e.value.value.bytes));
      }
    }
  }
  return out;
}

AmqpProperties::AmqpProperties(const Properties& props) {
  p_._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG |
              AMQP_BASIC_MESSAGE_ID_FLAG | AMQP_BASIC_HEADERS_FLAG;
  p_.content_type = bytes_of(props.content_type);
  p_.delivery_mode = props.persistent ? 2 : 1;
  p_.message_id = bytes_of(props.message_id);
  if (!props.type.empty()) {
    p_._flags |= AMQP_BASIC_TYPE_FLAG;
    p_.type = bytes_of(props.type);
  }
  entries_.reserve(props.headers.size());
  for (const auto& [name, value] : props.headers) {
    amqp_table_entry_t e{};
    e.key = bytes_of(name);
    e.value.kind = AMQP_FIELD_KIND_UTF8;
    e.value.value.bytes = bytes_of(value);
    entries_.push_back(e);
  }
  p_.headers.num_entries = static_cast<int>(entries_.size());
  p_.headers.entries = entries_.data();
}

}  // namespace brook::amqp
