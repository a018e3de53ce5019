use fintecture_oauth::api;

#[derive(Debug)]
pub struct MyError;

#[api]
pub trait Api {
    #[endpoint(get = "/a")]
    async fn call(&self) -> Result<(), MyError>;
}

fn main() {}
