/* Intrusive doubly linked lists.
 *
 * A struct list_node lives inside its owner's struct, so linking and
 * unlinking never allocate and cost a few stores: the flow table moves a
 * flow to the back of its activity list on every packet.  A zeroed
 * struct list_head is an empty list; the ends hold NULL, not the head, so
 * a head may be copied while empty.  The list owns nothing: the owner of
 * the enclosing structs frees them (after unlinking them).  A node must
 * be on at most one list through one member, and list_unlink must only be
 * given a node that is on that list.
 *
 * LRU use: list_move_back on every touch, list_first is the least
 * recently touched. */
#ifndef IMAPSCOPE_UTIL_LIST_H
#define IMAPSCOPE_UTIL_LIST_H

#include <stdbool.h>
#include <stddef.h>

/* The struct of type that holds the member member at ptr. */
#define LIST_ENTRY(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

struct list_node {
	struct list_node *prev, *next;
};

struct list_head {
	struct list_node *first, *last;
};

static inline bool list_empty(const struct list_head *l)
{
	return l->first == NULL;
}

static inline struct list_node *list_first(const struct list_head *l)
{
	return l->first;
}

static inline struct list_node *list_last(const struct list_head *l)
{
	return l->last;
}

static inline void list_push_back(struct list_head *l, struct list_node *n)
{
	n->prev = l->last;
	n->next = NULL;
	if (l->last != NULL)
		l->last->next = n;
	else
		l->first = n;
	l->last = n;
}

static inline void list_push_front(struct list_head *l, struct list_node *n)
{
	n->prev = NULL;
	n->next = l->first;
	if (l->first != NULL)
		l->first->prev = n;
	else
		l->last = n;
	l->first = n;
}

static inline void list_unlink(struct list_head *l, struct list_node *n)
{
	if (n->prev != NULL)
		n->prev->next = n->next;
	else
		l->first = n->next;
	if (n->next != NULL)
		n->next->prev = n->prev;
	else
		l->last = n->prev;
	n->prev = n->next = NULL;
}

/* Most recently used at the back: a no-op when n is there already, the
 * common case of a busy flow. */
static inline void list_move_back(struct list_head *l, struct list_node *n)
{
	if (l->last != n) {
		list_unlink(l, n);
		list_push_back(l, n);
	}
}

static inline void list_move_front(struct list_head *l, struct list_node *n)
{
	if (l->first != n) {
		list_unlink(l, n);
		list_push_front(l, n);
	}
}

#endif
