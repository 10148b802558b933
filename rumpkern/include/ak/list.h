// Intrusive doubly linked list.  An object can be on as many lists as it has
// ListNode members.
#pragma once

#include <ak/base.h>

namespace ak {

class ListNode : NonCopyable {
public:
    constexpr ListNode() = default;
    bool linked() const { return m_next != nullptr; }

private:
    template <typename T, ListNode T::*> friend class List;
    ListNode* m_prev = nullptr;
    ListNode* m_next = nullptr;
};

template <typename T, ListNode T::*Member> class List : NonCopyable {
public:
    List() { m_head.m_prev = m_head.m_next = &m_head; }
    bool empty() const { return m_head.m_next == &m_head; }
    size_t size() const { return m_size; }

    void push_back(T& v) { insert_before(&m_head, node(v)); }
    void push_front(T& v) { insert_before(m_head.m_next, node(v)); }
    void insert_before(T& pos, T& v) { insert_before(node(pos), node(v)); }
    void remove(T& v) {
        ListNode* n = node(v);
        AK_ASSERT(n->linked());
        n->m_prev->m_next = n->m_next;
        n->m_next->m_prev = n->m_prev;
        n->m_prev = n->m_next = nullptr;
        m_size--;
    }
    T* first() const { return empty() ? nullptr : owner(m_head.m_next); }
    T* last() const { return empty() ? nullptr : owner(m_head.m_prev); }
    T* next(T& v) const {
        ListNode* n = node(v)->m_next;
        return n == &m_head ? nullptr : owner(n);
    }
    T* prev(T& v) const {
        ListNode* n = node(v)->m_prev;
        return n == &m_head ? nullptr : owner(n);
    }
    T* pop_front() {
        T* v = first();
        if (v)
            remove(*v);
        return v;
    }

    class Iterator {
    public:
        Iterator(const List* l, ListNode* n) : m_list(l), m_node(n) {}
        T& operator*() const { return *owner(m_node); }
        T* operator->() const { return owner(m_node); }
        Iterator& operator++() {
            m_node = m_node->m_next;
            return *this;
        }
        bool operator!=(const Iterator& o) const { return m_node != o.m_node; }

    private:
        const List* m_list;
        ListNode* m_node;
    };
    Iterator begin() const { return Iterator(this, m_head.m_next); }
    Iterator end() const { return Iterator(this, const_cast<ListNode*>(&m_head)); }

private:
    static ListNode* node(T& v) { return &(v.*Member); }
    static ListNode* node(const T& v) { return const_cast<ListNode*>(&(v.*Member)); }
    static T* owner(const ListNode* n) {
        // offsetof for a member pointer
        const T* dummy = nullptr;
        size_t off = reinterpret_cast<size_t>(&(dummy->*Member));
        return reinterpret_cast<T*>(reinterpret_cast<uintptr_t>(n) - off);
    }
    void insert_before(ListNode* pos, ListNode* n) {
        AK_ASSERT(!n->linked());
        n->m_next = pos;
        n->m_prev = pos->m_prev;
        pos->m_prev->m_next = n;
        pos->m_prev = n;
        m_size++;
    }
    ListNode m_head;
    size_t m_size = 0;
};

} // namespace ak
