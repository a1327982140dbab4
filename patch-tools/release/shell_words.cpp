#include "shell_words.h"

namespace kp::build {
namespace {

struct Splitter {
	ShellLine out;
	ShellCommand cmd;
	std::string word;
	bool in_word = false;

	void end_word()
	{
		if (in_word)
			cmd.push_back(word);
		word.clear();
		in_word = false;
	}
	void end_command(const std::string &op)
	{
		end_word();
		if (!cmd.empty()) {
			out.commands.push_back(std::move(cmd));
			out.ended_by.push_back(op);
		}
		cmd.clear();
	}
	void operator_word(const std::string &op)
	{
		end_word();
		cmd.push_back(op);
	}
};

// Reads a quoted string starting after its opening quote; returns the index after the
// closing one, or npos when it is not closed.
size_t read_quoted(std::string_view s, size_t i, char quote, std::string &word)
{
	for (; i < s.size(); ++i) {
		char c = s[i];
		if (c == quote)
			return i + 1;
		if (quote == '"' && c == '\\' && i + 1 < s.size() &&
		    std::string_view("$`\"\\\n").find(s[i + 1]) != std::string_view::npos)
			c = s[++i];
		word += c;
	}
	return std::string_view::npos;
}

} // namespace

ShellLine split_shell_line(std::string_view s)
{
	Splitter sp;
	for (size_t i = 0; i < s.size();) {
		char c = s[i];
		if (c == '\'' || c == '"') {
			size_t next = read_quoted(s, i + 1, c, sp.word);
			sp.in_word = true;
			if (next == std::string_view::npos) {
				sp.out.complete = false;
				sp.word.clear();
				sp.in_word = false;
				break;
			}
			i = next;
		} else if (c == '\\' && i + 1 < s.size()) {
			sp.word += s[i + 1];
			sp.in_word = true;
			i += 2;
		} else if (c == ' ' || c == '\t' || c == '\n') {
			sp.end_word();
			++i;
		} else if (c == ';') {
			sp.end_command(";");
			++i;
		} else if (c == '|' || c == '&') {
			bool twice = i + 1 < s.size() && s[i + 1] == c;
			sp.end_command(std::string(twice ? 2 : 1, c));
			i += twice ? 2 : 1;
		} else if (c == '>' || c == '<') {
			bool twice = c == '>' && i + 1 < s.size() && s[i + 1] == '>';
			sp.operator_word(twice ? ">>" : std::string(1, c));
			i += twice ? 2 : 1;
		} else {
			sp.word += c;
			sp.in_word = true;
			++i;
		}
	}
	sp.end_command("");
	if (!sp.out.ended_by.empty())
		sp.out.ended_by.back().clear();
	return std::move(sp.out);
}

} // namespace kp::build
