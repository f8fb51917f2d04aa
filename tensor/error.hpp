// The exception hierarchy. Every error tapegrad raises derives from tg::Error, so a program can
// catch one type at main(). Messages start with the function's name and show the values involved.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>

namespace tg {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// Shapes that do not fit: broadcasting, matmul inner dimensions, reshape sizes, axes out of range.
struct ShapeError : Error {
  using Error::Error;
};
// Mixed or unsupported dtypes.
struct DTypeError : Error {
  using Error::Error;
};
// A bad argument value that is not a shape or dtype problem (a negative count, an empty list, ...).
struct ValueError : Error {
  using Error::Error;
};
// Autograd misuse: backward through a released tape, a gradient of the wrong shape, NaN in anomaly
// mode.
struct AutogradError : Error {
  using Error::Error;
};
// A malformed file. what() reads "<file>: byte <offset>: <message>", or "<file>: <field>:
// <message>" for a value that parses but is wrong in meaning (a checkpoint's metadata), named by
// its field.
struct FormatError : Error {
  struct Field {
    std::string name;  // e.g. "metadata 'hidden'"
  };
  FormatError(const std::string& file, std::uint64_t offset, const std::string& message)
      : Error(file + ": byte " + std::to_string(offset) + ": " + message),
        file(file),
        offset(offset) {}
  FormatError(const std::string& file, const Field& field, const std::string& message)
      : Error(file + ": " + field.name + ": " + message), file(file), field(field.name) {}
  std::string file;
  std::uint64_t offset = 0;
  std::string field;  // empty when `offset` says where
};

}  // namespace tg
