// Running independent work items on a few threads.
#pragma once
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <thread>
#include <vector>

namespace kp::build {

// Calls fn(i) for every i in [0, n), on up to `jobs` threads; returns when all are done.
// fn must not throw (catch inside and record the error with the item).
template <class Fn>
void parallel_for(size_t n, int jobs, Fn fn)
{
	std::atomic<size_t> next{0};
	auto worker = [&] {
		for (size_t i = next++; i < n; i = next++)
			fn(i);
	};
	size_t threads =
	        std::max<size_t>(1, std::min<size_t>(static_cast<size_t>(std::max(jobs, 1)), n));
	std::vector<std::thread> pool;
	for (size_t t = 0; t < threads; ++t)
		pool.emplace_back(worker);
	for (auto &t : pool)
		t.join();
}

} // namespace kp::build
