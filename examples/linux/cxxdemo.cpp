// cxxdemo: a C++ program using std::thread, iostreams and exceptions, built
// with `g++ -static` for the unikernel proof tests (its output is compared
// with a native run's).  Exit status 0 when every check passed.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <iomanip>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

int g_failures = 0;

void check(bool ok, const std::string& what) {
    std::cout << (ok ? "ok   " : "FAIL ") << what << '\n';
    if (!ok)
        g_failures++;
}

struct ParseError : std::runtime_error {
    explicit ParseError(const std::string& s, size_t at)
        : std::runtime_error("cannot parse '" + s + "'"), position(at) {}
    size_t position;
};

int parse(const std::string& s) {
    size_t at = 0;
    int v = 0;
    for (char c : s) {
        if (c < '0' || c > '9')
            throw ParseError(s, at);
        v = v * 10 + (c - '0');
        at++;
    }
    return v;
}

// Destructors run while an exception unwinds through a frame.
struct Tracer {
    explicit Tracer(std::vector<std::string>& log, std::string n) : m_log(log), m_name(std::move(n)) {}
    ~Tracer() { m_log.push_back("~" + m_name); }
    std::vector<std::string>& m_log;
    std::string m_name;
};

void deep(int n, std::vector<std::string>& log) {
    Tracer t(log, "frame" + std::to_string(n));
    if (n == 0)
        throw std::out_of_range("bottom reached");
    deep(n - 1, log);
}

void exceptions() {
    try {
        parse("12x4");
        check(false, "parse throws");
    } catch (const ParseError& e) {
        std::cout << "caught: " << e.what() << " at " << e.position << '\n';
        check(e.position == 2, "exception carries its data");
    }
    std::vector<std::string> log;
    try {
        deep(3, log);
    } catch (const std::exception& e) {
        std::cout << "caught: " << e.what() << '\n';
    }
    std::ostringstream unwound;
    for (auto& s : log)
        unwound << s << ' ';
    std::cout << "unwound: " << unwound.str() << '\n';
    check(log.size() == 4 && log.front() == "~frame0", "destructors ran during unwinding");
    try {
        std::vector<int> v(3);
        (void)v.at(10);
    } catch (const std::out_of_range&) {
        check(true, "std::vector::at throws out_of_range");
    }
    // An exception crossing threads through a future.
    auto fut = std::async(std::launch::async, [] { return parse("99z"); });
    try {
        fut.get();
        check(false, "future rethrows");
    } catch (const ParseError& e) {
        check(e.position == 2, "exception from another thread via std::future");
    }
}

void threads() {
    constexpr int n = 4, rounds = 20000;
    std::mutex m;
    std::condition_variable cv;
    long counter = 0;
    int turn = 0;
    std::atomic<int> started{0};
    std::vector<std::string> order;
    std::vector<std::thread> pool;
    for (int id = 0; id < n; id++)
        pool.emplace_back([&, id] {
            started++;
            for (int i = 0; i < rounds; i++) {
                std::lock_guard<std::mutex> g(m);
                counter += id + 1;
            }
            std::unique_lock<std::mutex> lk(m);
            cv.wait(lk, [&] { return turn == id; });
            order.push_back("t" + std::to_string(id));
            turn++;
            cv.notify_all();
        });
    for (auto& t : pool)
        t.join();
    std::cout << "counter " << counter << ", order";
    for (auto& o : order)
        std::cout << ' ' << o;
    std::cout << '\n';
    check(counter == long(rounds) * (1 + 2 + 3 + 4) && started == n, "std::thread with mutex");

    auto t0 = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
                  .count();
    check(ms >= 20 && ms < 2000, "sleep_for 20 ms");

    std::vector<std::future<long>> parts;
    for (long w = 0; w < 4; w++)
        parts.push_back(std::async(std::launch::async, [w] {
            long s = 0;
            for (long i = w; i < 1000000; i += 4)
                s += i;
            return s;
        }));
    long total = 0;
    for (auto& p : parts)
        total += p.get();
    std::cout << "async sum " << total << '\n';
    check(total == 499999500000L, "std::async results");
}

void streams() {
    std::map<std::string, double> prices{{"disk", 49.5}, {"cpu", 199.99}, {"ram", 75.25}};
    std::cout << std::left << std::setw(6) << "item" << std::right << std::setw(10) << "price" << '\n';
    for (auto& [k, v] : prices)
        std::cout << std::left << std::setw(6) << k << std::right << std::setw(10) << std::fixed
                  << std::setprecision(2) << v << '\n';
    std::istringstream in("3 1 4 1 5 9 2 6");
    std::vector<int> v{std::istream_iterator<int>(in), std::istream_iterator<int>()};
    std::sort(v.begin(), v.end());
    std::cout << "sorted:";
    for (int x : v)
        std::cout << ' ' << x;
    std::cout << " sum " << std::accumulate(v.begin(), v.end(), 0) << '\n';
    std::cout << std::hex << std::showbase << 48879 << std::dec << ' ' << std::scientific << 12345.678 << '\n';
    check(v.size() == 8 && v.front() == 1 && v.back() == 9, "istream parsing");
    auto shared = std::make_shared<std::string>("shared");
    std::weak_ptr<std::string> weak = shared;
    shared.reset();
    check(weak.expired(), "shared_ptr/weak_ptr");
}

} // namespace

int main() {
    std::cout << "cxxdemo: threads, iostreams, exceptions\n";
    exceptions();
    threads();
    streams();
    std::cout << (g_failures ? "FAILED" : "PASSED") << ": " << g_failures << " failures" << std::endl;
    return g_failures ? 1 : 0;
}
