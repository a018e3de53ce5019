use fintecture_oauth::{Error, api};

#[api]
pub trait Api {
    #[endpoint(get = "/x")]
    async fn call(&self) -> Option<String>;

    #[endpoint(get = "/y")]
    async fn nothing(&self);
}

fn main() {}
