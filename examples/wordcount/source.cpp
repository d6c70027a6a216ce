// wordcount-source: a job that sends `lines` lines of text, then exits.
#include "wordcount.hpp"

int main(int argc, char** argv) {
  brook::Node node(argc, argv);
  wordcount::wire_source(node);
  return node.run();
}
