// weft — task_graph::dump_dot: a graph as Graphviz DOT.
//
// Nodes are boxes (conditions diamonds, composed nodes 3-D boxes) labelled with their
// names; condition edges are dashed and labelled with their index. Each composed graph
// is drawn once, as a cluster, with a dotted edge from every node that composes it; a
// subflow node's nodes from the last run are a cluster inside the graph that has it.
#include "task_graph_impl.hpp"

#include <ostream>
#include <sstream>
#include <string>
#include <unordered_set>
#include <vector>

namespace weft::detail {
namespace {

std::string quoted(const std::string& text) {
    std::string out = "\"";
    for (const char c : text) {
        if (c == '"' || c == '\\') out += '\\';
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out += c;
    }
    out += '"';
    return out;
}

/// a + b without operator+(const char*, std::string&&), which trips g++ 12's -Wrestrict.
std::string concat(std::string a, const std::string& b) {
    a.append(b);
    return a;
}

std::string id_of(const void* p) {
    std::ostringstream os;
    os << 'n' << p;
    return os.str();
}

class dot_writer {
public:
    explicit dot_writer(std::ostream& os) : m_os{os} {}

    void graph(const graph_impl& g, bool show_subflows) {
        m_os << "digraph " << quoted(g.m_name.empty() ? std::string{"task_graph"} : g.m_name) << " {\n"
             << "  compound=true;\n  node [shape=box, style=rounded];\n";
        body(g, show_subflows, "  ");
        // Composed graphs, each once (a composed graph may compose others in turn).
        for (std::size_t i = 0; i < m_pending.size(); ++i) {
            graph_impl& inner = *m_pending[i];
            const std::lock_guard lock{inner.m_mutex};  // no run starts or ends while it is drawn
            const bool idle = inner.m_state.load(std::memory_order_relaxed) == graph_state::idle;  // relaxed: under m_mutex
            m_os << "  subgraph " << cluster_id(&inner) << " {\n    label=" << quoted(inner.m_name.empty() ? "composed graph" : inner.m_name)
                 << ";\n    style=rounded;\n";
            body(inner, idle, "    ");
            m_os << "  }\n";
        }
        m_os << "}\n";
    }

private:
    std::string cluster_id(const void* p) { return concat("cluster_", id_of(p)); }

    void body(const graph_impl& g, bool show_subflows, const std::string& indent) {
        for (std::size_t i = 0; i < g.size(); ++i) vertex(g.at(i), indent);
        for (std::size_t i = 0; i < g.size(); ++i) edges(g.at(i), indent);
        for (std::size_t i = 0; i < g.size(); ++i) {
            const graph_node& n = g.at(i);
            if (n.m_kind == node_kind::composed) composed_link(n, indent);
            if (n.m_kind == node_kind::subflow && show_subflows && n.m_child && n.m_child->size() > 0) {
                const graph_impl& c = *n.m_child;
                m_os << indent << "subgraph " << cluster_id(&c) << " {\n"
                     << indent << "  label=" << quoted(concat("subflow: ", name_of(n))) << ";\n"
                     << indent << "  style=dashed;\n";
                body(c, true, indent + "  ");
                m_os << indent << "}\n";
                m_os << indent << id_of(&n) << " -> " << id_of(&c.at(0)) << " [style=dotted, lhead=" << cluster_id(&c)
                     << "];\n";
            }
        }
    }

    static std::string name_of(const graph_node& n) {
        return n.m_name.empty() ? concat("#", std::to_string(n.m_index)) : n.m_name;
    }

    void vertex(const graph_node& n, const std::string& indent) {
        m_os << indent << id_of(&n) << " [label=" << quoted(name_of(n));
        switch (n.m_kind) {
            case node_kind::condition: m_os << ", shape=diamond, style=\"\""; break;
            case node_kind::composed: m_os << ", shape=box3d, style=\"\""; break;
            case node_kind::placeholder: m_os << ", style=\"rounded,dotted\""; break;
            case node_kind::subflow: m_os << ", style=\"rounded,bold\""; break;
            case node_kind::task: break;
        }
        m_os << "];\n";
    }

    void edges(const graph_node& n, const std::string& indent) {
        for (std::uint32_t i = 0; i < n.m_succ.size(); ++i) {
            m_os << indent << id_of(&n) << " -> " << id_of(n.m_succ[i]);
            // A condition's edge back up the graph (a loop) does not rank its target:
            // drawn as a constraint it would lie on top of the forward edge.
            if (n.m_kind == node_kind::condition)
                m_os << " [style=dashed, label=\"" << i << "\""
                     << (n.m_succ[i]->m_index < n.m_index ? ", constraint=false" : "") << "]";
            m_os << ";\n";
        }
    }

    void composed_link(const graph_node& n, const std::string& indent) {
        graph_impl* inner = n.m_composed;
        if (m_seen.insert(inner).second) m_pending.push_back(inner);
        if (inner->size() > 0)
            m_os << indent << id_of(&n) << " -> " << id_of(&inner->at(0)) << " [style=dotted, lhead="
                 << cluster_id(inner) << "];\n";
    }

    std::ostream& m_os;
    std::unordered_set<const graph_impl*> m_seen;
    std::vector<graph_impl*> m_pending;
};

}  // namespace
}  // namespace weft::detail

namespace weft {

void task_graph::dump_dot(std::ostream& os) const {
    detail::graph_impl& g = *m_impl;
    detail::dot_writer writer{os};
    // The structure cannot change while the graph runs, but a subflow's nodes can: they
    // are drawn only when it is idle, and holding m_mutex keeps a run from starting.
    const std::lock_guard lock{g.m_mutex};
    writer.graph(g, g.m_state.load(std::memory_order_relaxed) == detail::graph_state::idle);  // relaxed: under m_mutex
}

std::string task_graph::dump_dot() const {
    std::ostringstream os;
    dump_dot(os);
    return os.str();
}

}  // namespace weft
