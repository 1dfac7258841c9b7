typedef int s_placeholder_t;   //  placeholder: being written
