// Error types of the core. Each carries a message that names the file, key or run concerned
// and what was expected; front ends print it as it is.
#pragma once

#include <stdexcept>
#include <string>

namespace distill {

// A dataset file is missing, unreadable, or not what it claims to be.
class DataError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The run store could not do what was asked (carries SQLite's message).
class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A model file or checkpoint cannot be used (missing, wrong architecture, corrupt).
class ModelError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Raised inside training when a loss becomes NaN or infinite.
class DivergenceError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace distill
