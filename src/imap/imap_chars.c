/* The table behind imap/imap_chars.h, computed at compile time from the
 * ABNF so that the rules are written once. */
#include "imap/imap_chars.h"

#define CH_IS_CTL(c)      ((c) <= 0x1f || (c) == 0x7f)
#define CH_IS_WILD(c)     ((c) == '%' || (c) == '*')
#define CH_IS_QSPEC(c)    ((c) == '"' || (c) == '\\')
#define CH_IS_RSPEC(c)    ((c) == ']')
#define CH_IS_SPECIAL(c)  ((c) == '(' || (c) == ')' || (c) == '{' || (c) == ' ' || \
			   CH_IS_CTL(c) || CH_IS_WILD(c) || CH_IS_QSPEC(c) || CH_IS_RSPEC(c))
#define CH_IS_ATOM(c)     ((c) >= 0x01 && (c) <= 0x7f && !CH_IS_SPECIAL(c))
#define CH_IS_ASTRING(c)  (CH_IS_ATOM(c) || CH_IS_RSPEC(c))
#define CH_IS_WORD(c)     ((c) > 0x20 && (c) != 0x7f && (c) != '(' && (c) != ')' && \
			   (c) != '{' && (c) != '"' && (c) != '[')

#define CLS(c) (uint16_t)( \
	(CH_IS_CTL(c) ? IMAP_CH_CTL : 0u) | \
	(CH_IS_ATOM(c) ? IMAP_CH_ATOM : 0u) | \
	(CH_IS_ASTRING(c) ? IMAP_CH_ASTRING : 0u) | \
	(CH_IS_ASTRING(c) && (c) != '+' ? IMAP_CH_TAG : 0u) | \
	(CH_IS_WILD(c) ? IMAP_CH_WILDCARD : 0u) | \
	(CH_IS_QSPEC(c) ? IMAP_CH_QSPECIAL : 0u) | \
	(CH_IS_RSPEC(c) ? IMAP_CH_RSPECIAL : 0u) | \
	((c) >= '0' && (c) <= '9' ? IMAP_CH_DIGIT : 0u) | \
	(CH_IS_WORD(c) ? IMAP_CH_WORD : 0u))

#define R4(b)   CLS(b), CLS((b) + 1), CLS((b) + 2), CLS((b) + 3)
#define R16(b)  R4(b), R4((b) + 4), R4((b) + 8), R4((b) + 12)
#define R64(b)  R16(b), R16((b) + 16), R16((b) + 32), R16((b) + 48)

const uint16_t imap_chars_class[256] = {
	R64(0), R64(64), R64(128), R64(192)
};
