// Plain-text tables for ghostctl's listings: every column as wide as its widest cell, so the
// rows line up whatever the lengths of names, states or numbers.
#ifndef GHOST_CLIENTS_GHOSTCTL_TABLE_H_
#define GHOST_CLIENTS_GHOSTCTL_TABLE_H_

#include <string>
#include <vector>

namespace ghost::ctl {

class Table {
 public:
  enum class Align { kLeft, kRight };
  struct Column {
    std::string title;
    Align align = Align::kLeft;
  };

  explicit Table(std::vector<Column> columns) : columns_(std::move(columns)) {}

  // One cell per column; missing cells are empty, extra ones dropped.
  void AddRow(std::vector<std::string> cells);
  // The header and the rows, one line each, columns two spaces apart. The last column is not
  // padded, so free text (an error message) may end a row at any length.
  std::string Render() const;

 private:
  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace ghost::ctl

#endif  // GHOST_CLIENTS_GHOSTCTL_TABLE_H_
