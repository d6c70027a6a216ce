// wordcount-tally: adds up the counts; writes its report when stopped.
#include "wordcount.hpp"

int main(int argc, char** argv) {
  brook::Node node(argc, argv);
  wordcount::Tally tally;
  wordcount::wire_tally(node, tally);
  return node.run();
}
