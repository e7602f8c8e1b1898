/* --summary: number formats shared by the json and text writers. */
#include "report/summary_render.h"

#include <stdint.h>

/* num/den with four decimals ("0.1250"); JSON null (text "-") if den is 0. */
int summary_append_ratio(struct buf *b, uint64_t num, uint64_t den, bool json)
{
	uint64_t r;
	char frac[5];
	int i;

	if (den == 0)
		return json ? LIT(b, "null") : LIT(b, "-");
	if (num > den)
		num = den;
	/* Rounded in long division: num * 10000 could overflow. */
	r = (uint64_t)((num * (unsigned __int128)10000 + den / 2) / den);
	frac[0] = '.';
	for (i = 4; i >= 1; i--) {
		frac[i] = (char)('0' + r % 10);
		r /= 10;
	}
	return output_append_u64(b, r) | output_put(b, frac, sizeof frac);
}

/* Microseconds as the int64 output_append_milli takes. */
int64_t summary_i64(uint64_t us)
{
	return us > INT64_MAX ? INT64_MAX : (int64_t)us;
}
