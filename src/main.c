/* Placeholder until the layers are wired; replaced by the real CLI. */
#include <stdio.h>
int main(void)
{
	fputs("imapscope: not built yet\n", stderr);
	return 2;
}
