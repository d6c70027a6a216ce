// wordcount-counter: counts the words of each line.
#include "wordcount.hpp"

int main(int argc, char** argv) {
  brook::Node node(argc, argv);
  wordcount::wire_counter(node);
  return node.run();
}
