// The seed tutorial's crawler (spec/python_parity.md T3): I/O-bound fetches finish
// several times faster with max_workers=8 than with 1, because each fetch spends its
// time waiting on the network, and a thread_pool_executor's threads are real threads
// that may block.
//
// Nothing leaves the machine: the program first starts a tiny HTTP/1.0 server on
// 127.0.0.1 (an ephemeral port) that serves PAGES pages, each answered after LATENCY_MS
// milliseconds (the server's stand-in for a slow remote site). Then it crawls every page
// twice, with max_workers=1 and with max_workers=8, in the shape of the Python docs'
// ThreadPoolExecutor example:
//
//   with ThreadPoolExecutor(max_workers=8) as executor:
//       future_to_url = {executor.submit(load_url, url, 60): url for url in URLS}
//       for future in concurrent.futures.as_completed(future_to_url):
//           url = future_to_url[future]
//           try: data = future.result()
//           except Exception as exc: print('%r generated an exception: %s' % (url, exc))
//
// Each fetch is a blocking socket GET whose body is checked against what the page must
// contain. The exit status is 0 only if every page of both crawls arrived intact.
//
//   crawler [PAGES [LATENCY_MS]]      defaults: 40 pages, 20 ms
#include <weft/thread_pool_executor.hpp>
#include <weft/wait.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <vector>

namespace {

using namespace std::chrono_literals;

[[noreturn]] void throw_errno(const char* what) {
    throw std::system_error(errno, std::generic_category(), what);
}

/// Owns one socket descriptor.
class socket_fd {
public:
    explicit socket_fd(int fd) : m_fd{fd} {
        if (m_fd < 0) throw_errno("socket");
    }
    ~socket_fd() { ::close(m_fd); }
    socket_fd(const socket_fd&) = delete;
    socket_fd& operator=(const socket_fd&) = delete;
    int get() const noexcept { return m_fd; }

private:
    int m_fd;
};

void set_timeouts(int fd, std::chrono::seconds limit) {
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(limit.count());
    if (::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0 ||
        ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0)
        throw_errno("setsockopt");
}

void send_all(int fd, std::string_view data) {
    while (!data.empty()) {
        const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) throw_errno("send");
        data.remove_prefix(static_cast<std::size_t>(n));
    }
}

/// Reads until the peer closes (or, with `stop_at`, until that text has arrived).
std::string receive(int fd, std::string_view stop_at = {}) {
    std::string data;
    char buffer[4096];
    for (;;) {
        const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw_errno("recv");
        if (n == 0) return data;
        data.append(buffer, static_cast<std::size_t>(n));
        if (!stop_at.empty() && data.find(stop_at) != std::string::npos) return data;
        if (data.size() > (1U << 20)) throw std::runtime_error("response too large");
    }
}

std::string page_path(int k) {
    return "/page/" + std::to_string(k);
}

/// What page `k` must contain; the crawler checks every byte.
std::string page_body(int k) {
    const unsigned token = (static_cast<unsigned>(k) + 1U) * 2654435761U;  // Knuth's hash
    return "<html><body><h1>page " + std::to_string(k) + "</h1><p>token " + std::to_string(token) +
           "</p></body></html>\n";
}

/// The local site: PAGES pages on 127.0.0.1, each answered after `latency`. Every
/// connection is served start to end by one of k_server_threads threads (more than the
/// crawler's 8 workers, so the server is never what limits them).
class page_server {
public:
    static constexpr int k_server_threads = 16;

    page_server(int pages, std::chrono::milliseconds latency)
        : m_pages{pages}, m_latency{latency}, m_listener{::socket(AF_INET, SOCK_STREAM, 0)} {
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = 0;  // ephemeral
        socklen_t len = sizeof addr;
        if (::bind(m_listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
            throw_errno("bind");
        if (::listen(m_listener.get(), 128) != 0) throw_errno("listen");
        if (::getsockname(m_listener.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0)
            throw_errno("getsockname");
        m_port = ntohs(addr.sin_port);
        for (int i = 0; i < k_server_threads; ++i) m_threads.emplace_back([this] { serve(); });
    }

    ~page_server() {
        m_stopping.store(true);
        ::shutdown(m_listener.get(), SHUT_RDWR);  // wakes every thread blocked in accept()
        for (std::thread& t : m_threads) t.join();
    }

    page_server(const page_server&) = delete;
    page_server& operator=(const page_server&) = delete;

    int port() const noexcept { return m_port; }
    int pages() const noexcept { return m_pages; }

private:
    void serve() noexcept {
        while (!m_stopping.load()) {
            const int fd = ::accept(m_listener.get(), nullptr, nullptr);
            if (fd < 0) {
                if (errno == EINTR || errno == ECONNABORTED) continue;
                return;  // the listener was shut down
            }
            try {
                const socket_fd connection{fd};
                answer(connection.get());
            } catch (const std::exception& e) {
                std::fprintf(stderr, "crawler: server: %s\n", e.what());
            }
        }
    }

    void answer(int fd) const {
        set_timeouts(fd, 5s);
        const std::string request = receive(fd, "\r\n\r\n");
        std::this_thread::sleep_for(m_latency);  // the slow remote site
        const std::string line = request.substr(0, request.find("\r\n"));
        int page = -1;
        for (int k = 0; k < m_pages && page < 0; ++k)
            if (line == "GET " + page_path(k) + " HTTP/1.0") page = k;
        const std::string body = page >= 0 ? page_body(page) : std::string{"not found\n"};
        send_all(fd, std::string{page >= 0 ? "HTTP/1.0 200 OK" : "HTTP/1.0 404 Not Found"} +
                         "\r\nContent-Type: text/html\r\nContent-Length: " +
                         std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
    }

    int m_pages;
    std::chrono::milliseconds m_latency;
    socket_fd m_listener;
    int m_port = 0;
    std::atomic<bool> m_stopping{false};
    std::vector<std::thread> m_threads;
};

/// A blocking HTTP/1.0 GET of page `k`; returns the body's size once it is verified.
std::size_t load_page(int port, int k) {
    const socket_fd s{::socket(AF_INET, SOCK_STREAM, 0)};
    set_timeouts(s.get(), 10s);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    if (::connect(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
        throw_errno("connect");
    send_all(s.get(), "GET " + page_path(k) + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
    const std::string response = receive(s.get());

    const std::size_t header_end = response.find("\r\n\r\n");
    if (!response.starts_with("HTTP/1.0 200 ") || header_end == std::string::npos)
        throw std::runtime_error("bad response: " + response.substr(0, response.find("\r\n")));
    const std::string_view body = std::string_view{response}.substr(header_end + 4);
    if (body != page_body(k)) throw std::runtime_error("body differs from the page's content");
    return body.size();
}

struct crawl_result {
    int verified = 0;
    double ms = 0;
};

/// Fetches every page of `site` with `max_workers` threads; reports each failure.
crawl_result crawl(const page_server& site, int max_workers) {
    crawl_result out;
    const auto start = std::chrono::steady_clock::now();
    weft::thread_pool_executor executor{max_workers};  // `with ThreadPoolExecutor(...)`
    std::unordered_map<weft::future<std::size_t>, std::string>
        future_to_url;  // futures hash by identity
    std::vector<weft::future<std::size_t>> futures;
    for (int k = 0; k < site.pages(); ++k) {
        futures.push_back(executor.submit(load_page, site.port(), k));
        future_to_url.emplace(futures.back(),
                              "http://127.0.0.1:" + std::to_string(site.port()) + page_path(k));
    }
    for (const weft::future<std::size_t>& future : weft::as_completed(futures)) {
        try {
            future.result();
            ++out.verified;
        } catch (const std::exception& e) {
            std::printf("'%s' generated an exception: %s\n", future_to_url.at(future).c_str(),
                        e.what());
        }
    }
    out.ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    return out;
}

int parse_arg(int argc, char** argv, int index, int fallback, int min) {
    if (argc <= index) return fallback;
    char* end = nullptr;
    const long v = std::strtol(argv[index], &end, 10);
    if (*argv[index] == '\0' || *end != '\0' || v < min || v > 100000) {
        std::fprintf(stderr,
                     "usage: crawler [PAGES [LATENCY_MS]]  (PAGES >= 1, LATENCY_MS >= 0)\n");
        std::exit(2);
    }
    return static_cast<int>(v);
}

}  // namespace

int main(int argc, char** argv) {
    const int pages = parse_arg(argc, argv, 1, 40, 1);
    const int latency_ms = parse_arg(argc, argv, 2, 20, 0);

    const page_server site{pages, std::chrono::milliseconds{latency_ms}};
    std::printf("crawler: %d pages on http://127.0.0.1:%d/, each answered after %d ms\n", pages,
                site.port(), latency_ms);

    bool all_ok = true;
    double ms[2] = {};
    const int workers[2] = {1, 8};
    for (int i = 0; i < 2; ++i) {
        const crawl_result r = crawl(site, workers[i]);
        ms[i] = r.ms;
        all_ok = all_ok && r.verified == pages;
        std::printf("max_workers=%d: %d of %d pages fetched and verified in %.1f ms\n", workers[i],
                    r.verified, pages, r.ms);
    }
    std::printf("speedup of max_workers=8 over max_workers=1: %.2fx\n", ms[0] / ms[1]);
    return all_ok ? 0 : 1;
}
