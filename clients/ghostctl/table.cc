#include "clients/ghostctl/table.h"

#include <algorithm>

namespace ghost::ctl {

void Table::AddRow(std::vector<std::string> cells) {
  cells.resize(columns_.size());
  rows_.push_back(std::move(cells));
}

std::string Table::Render() const {
  std::vector<std::size_t> widths;
  for (const Column& column : columns_) widths.push_back(column.title.size());
  for (const std::vector<std::string>& row : rows_) {
    for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  const auto append_line = [&](const auto& cell_of) {
    std::string line;
    for (std::size_t i = 0; i < columns_.size(); ++i) {
      const std::string& cell = cell_of(i);
      const std::string padding(widths[i] - cell.size(), ' ');
      if (i > 0) line += "  ";
      if (columns_[i].align == Align::kRight) line += padding;
      line += cell;
      if (columns_[i].align == Align::kLeft && i + 1 < columns_.size()) line += padding;
    }
    line.erase(line.find_last_not_of(' ') + 1);
    out += line + "\n";
  };
  append_line([&](std::size_t i) -> const std::string& { return columns_[i].title; });
  for (const std::vector<std::string>& row : rows_) {
    append_line([&](std::size_t i) -> const std::string& { return row[i]; });
  }
  return out;
}

}  // namespace ghost::ctl
