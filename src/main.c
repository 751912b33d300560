/* main.c — placeholder until the CLI lands. */
#include <stdio.h>
int main(void)
{
    puts("embecode 0.1.0");
    return 0;
}
