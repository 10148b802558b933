/* An application using a libc function the image does not provide: ak-bake
 * must name it instead of failing with raw linker output. */
#include <time.h>

int main(void)
{
    return (int)time(0) & 1;
}
