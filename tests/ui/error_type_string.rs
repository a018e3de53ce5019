use fintecture_oauth::api;

#[api]
pub trait Api {
    #[endpoint(get = "/a")]
    async fn call(&self) -> Result<(), String>;
}

fn main() {}
